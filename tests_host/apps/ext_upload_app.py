"""Streaming upload test app for tests_host/live/test_multipart_live.py, on both runtimes.

    POST /upload   field "file" -> ROOT/upload.bin (max 300 KB per file, 310 KB body)
    POST /small    field "file" -> ROOT/small.bin (max 1 KB per file)
    POST /named    any file field -> ROOT/<safe client file name>
    POST /form     urlencoded or multipart text fields only
Each destination the app hands out is printed as "UPLOAD OPEN <path>".

Usage: ext_upload_app.py PORT ROOT
"""

import gc
import sys

from microhttp import App
from microhttp.multipart import receive_form, safe_name
from serving import serve_forever

port = int(sys.argv[1])
root = sys.argv[2]
app = App()


def dest(path):
    def pick(name, filename):
        print("UPLOAD OPEN " + path)
        return path

    return pick


def named(name, filename):
    path = root + "/" + safe_name(filename)
    print("UPLOAD OPEN " + path)
    return path


def report(form):
    gc.collect()
    return {"fields": form.fields, "files": form.files}


@app.post("/upload")
async def upload(request):
    return report(await receive_form(request, files=dest(root + "/upload.bin"),
                                     max_file=300 * 1024, max_total=310 * 1024))


@app.post("/small")
async def small(request):
    return report(await receive_form(request, files=dest(root + "/small.bin"), max_file=1024))


@app.post("/named")
async def named_upload(request):
    return report(await receive_form(request, files=named, max_file=64 * 1024))


@app.post("/form")
async def form(request):
    return report(await receive_form(request, max_field=64, max_fields=4))


serve_forever(app, port)
