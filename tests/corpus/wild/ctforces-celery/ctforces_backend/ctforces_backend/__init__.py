from celery import Celery

app = Celery("ctforces_backend")
