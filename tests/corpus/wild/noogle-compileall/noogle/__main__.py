import sys

print("noogle", sys.argv[1:])
