from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "corpus-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.staticfiles", "routes"]
ROOT_URLCONF = "rwapp.urls"
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
USE_I18N = True
LANGUAGE_CODE = "en"
