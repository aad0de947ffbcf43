#!/usr/bin/env python3
print("manage stand-in")
