import sys

print("working on it")
print("ERROR: the thing could not be fixed", file=sys.stderr)
sys.exit(1)
