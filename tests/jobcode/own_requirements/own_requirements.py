"""A job that brings its own requirements.txt: the worker starts it with the plain launcher."""

import os

print("parent is a worker thread pool, not a fork server:", os.getppid())
print("CHANGE: ran with its own requirements")
