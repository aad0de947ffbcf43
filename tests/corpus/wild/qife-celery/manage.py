#!/usr/bin/env python3
print("qife manage stand-in")
