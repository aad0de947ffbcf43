import os

bind = os.getenv("BIND", "0.0.0.0:80")
workers = int(os.getenv("WEB_CONCURRENCY", "2"))
