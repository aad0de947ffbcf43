"""`drift watch`: follow the engines' events and rescan a container seconds after it was changed
(drift/watch/loop.py); `cli.py` is the only module other commands import (the registration)."""
