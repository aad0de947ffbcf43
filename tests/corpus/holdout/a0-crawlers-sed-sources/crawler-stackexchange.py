import io
import sys

import pycurl
from bs4 import BeautifulSoup


def fetch(url):
    buf = io.BytesIO()
    c = pycurl.Curl()
    c.setopt(c.URL, url)
    c.setopt(c.WRITEDATA, buf)
    c.perform()
    c.close()
    return buf.getvalue().decode("utf-8", "replace")


if __name__ == "__main__":
    page = BeautifulSoup(fetch(sys.argv[1]), "html.parser")
    for a in page.select("a.question-hyperlink"):
        print(a.get_text())
