"""Frappe's development server for the browser smoke suite, bound to 127.0.0.1 only.

`bench serve` listens on 0.0.0.0; a CI run needs no outside access, so this serves the same WSGI
application (with /assets and /files) on the loopback interface. Run it from the bench's sites folder
with the bench's python:  cd BENCH/sites && ../env/bin/python /path/to/browser/serve.py 8031
The site is taken from the request's host name (http://SITE:PORT), as bench serve does without --site.
"""

import sys

from frappe.app import application_with_statics
from werkzeug.serving import run_simple

if __name__ == "__main__":
	port = int(sys.argv[1]) if len(sys.argv) > 1 else 8031
	run_simple("127.0.0.1", port, application_with_statics(), use_reloader=False, threaded=True)
