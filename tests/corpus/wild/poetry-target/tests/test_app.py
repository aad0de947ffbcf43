import unittest


class TestApp(unittest.TestCase):
    def test_import(self) -> None:
        import app.main  # noqa: F401
