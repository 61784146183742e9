# microhttp.params: routes with parameters ("/a/<int:id>/<path:rest>"), compiled when such a
# route is added and matched per request; loaded only by apps that have one.


def compile(url):
    # "/a/<int:id>/<path:rest>" -> ["", "a", ("int", "id"), ("path", "rest")]
    segs = []
    for s in url.split("/"):
        if s[:1] == "<" and s[-1:] == ">":
            c, _, n = s[1:-1].rpartition(":")
            if c not in ("", "str", "int", "path"):
                raise ValueError("unknown converter " + c)
            s = (c or "str", n)
        segs.append(s)
    return segs


def match(segs, parts):
    # The parameters if the split path ``parts`` matches ``segs``, else None.
    if len(parts) < len(segs):
        return None
    a = {}
    for i, s in enumerate(segs):
        p = parts[i]
        if isinstance(s, str):
            if p != s:
                return None
            continue
        c, n = s
        if c == "path":
            p = "/".join(parts[i:])
            if not p:
                return None
            a[n] = p
            return a
        if not p:
            return None
        if c == "int":
            try:
                p = int(p)
            except ValueError:
                return None
        a[n] = p
    return a if len(parts) == len(segs) else None
