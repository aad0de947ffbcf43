import idna
import six

print(idna.encode("example.com"), six.PY3)
