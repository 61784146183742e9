"""Serves a directory with microhttp.static on 127.0.0.1, two ways: mounted under /static and
through a route (/files/<path>). Every filesystem call is printed ("FS stat <path>") so the
test can prove that rejected paths never reach the filesystem.

Usage: static_app.py PORT ROOT
"""

import sys

from microhttp import App
from microhttp.static import Static
from serving import serve_forever


class LoggedStatic(Static):
    def _stat(self, path):
        print("FS stat " + path)
        return Static._stat(self, path)

    def _open(self, path):
        print("FS open " + path)
        return Static._open(self, path)


port = int(sys.argv[1])
root = sys.argv[2]
app = App()
www = LoggedStatic(root, max_age=120)
app.mount(www, "/static")


@app.get("/files/<path:name>")
async def files(request, name):
    return www.serve(request, name)


serve_forever(app, port)
