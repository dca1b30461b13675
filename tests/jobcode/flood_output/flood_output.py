import sys

for _ in range(40_000):
    sys.stdout.write("x" * 99 + "\n")
print("the end")
