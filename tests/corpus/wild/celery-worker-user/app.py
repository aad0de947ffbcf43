from celery import Celery

app = Celery("app", broker="redis://redis:6379/0")


@app.task
def add(x: int, y: int) -> int:
    return x + y
