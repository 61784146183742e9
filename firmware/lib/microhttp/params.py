# microhttp.params: routes with parameters ("/a/<int:id>/<path:rest>"), compiled when such a
# route is added and matched per request; loaded only by apps that have one.


def compile(url):
    # "/a/<int:id>/<path:rest>" -> ["", "a", ("int", "id"), ("path", "rest")]
    segments = []
    for segment in url.split("/"):
        if segment[:1] == "<" and segment[-1:] == ">":
            converter, _, name = segment[1:-1].rpartition(":")
            if converter not in ("", "str", "int", "path"):
                raise ValueError("unknown converter " + converter)
            segment = (converter or "str", name)
        segments.append(segment)
    return segments


def match(segments, parts):
    # The parameters if the split path ``parts`` matches ``segments``, else None.
    if len(parts) < len(segments):
        return None
    args = {}
    for i, segment in enumerate(segments):
        part = parts[i]
        if isinstance(segment, str):
            if part != segment:
                return None
            continue
        converter, name = segment
        if converter == "path":
            part = "/".join(parts[i:])
            if not part:
                return None
            args[name] = part
            return args
        if not part:
            return None
        if converter == "int":
            try:
                part = int(part)
            except ValueError:
                return None
        args[name] = part
    return args if len(parts) == len(segments) else None
