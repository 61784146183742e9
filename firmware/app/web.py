"""The control page: ``www/index.html.gz`` served precompressed from flash with an ETag.

In setup (access point) mode every unknown path redirects to the page, so a phone's
captive-portal probe (``/generate_204``, ``/hotspot-detect.html``...) opens it by itself.
"""

from microhttp import Response
from microhttp.static import Static

from app import wifi as wifi_states


def install(app, ctx, root="www"):
    # max_age=0: the browser revalidates with If-None-Match and gets a 304, so a firmware
    # update shows at once while an unchanged page costs a few bytes.
    www = Static(root, max_age=0)

    @app.get("/")
    def index(request):
        return www.serve(request, "index.html")

    @app.errorhandler(404)
    def not_found(request, exc):
        w = ctx.wifi
        if w is not None and w.state == wifi_states.AP and not request.path.startswith("/api/"):
            port = "" if ctx.port == 80 else ":%d" % ctx.port
            return Response.redirect("http://%s%s/" % (w.ip or "192.168.4.1", port))
        return Response.json({"error": getattr(exc, "message", None) or "not found"}, 404)

    return www
