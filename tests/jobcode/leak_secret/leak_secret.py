import os

print("secret:", os.environ.get("AWS_SECRET_ACCESS_KEY"))
print("token:", os.environ.get("AWS_SESSION_TOKEN"))
print("worker secret visible:", os.environ.get("REMEDY_TEST_WORKER_SECRET", "no"))
