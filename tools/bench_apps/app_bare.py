"""The floor: a bare asyncio server answering fixed bytes (no framework, no parsing beyond
what HTTP/1.1 framing needs: the request line, Content-Length and Connection)."""

import asyncio

import bench_common as c

PAGE = c.make_page()


def fixed(body, ctype=b"text/plain"):
    return b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (ctype, len(body), body)


# Every answer is built once; serving one is a single write of constant bytes.
R_PAGE = fixed(PAGE, b"text/html")
R_STATUS = fixed(b'{"led": false, "requests": 1, "uptime": 1}', b"application/json")
R_LED = fixed(b'{"on": true}', b"application/json")
R_404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            length = 0
            close = False
            while True:
                h = await reader.readline()
                if not h or h == b"\r\n":
                    break
                h = h.lower()
                if h.startswith(b"content-length:"):
                    length = int(h[15:])
                elif h.startswith(b"connection:") and b"close" in h:
                    close = True
            if length:
                await reader.readexactly(length)
            if line.startswith(b"GET / "):
                out = R_PAGE
            elif line.startswith(b"GET /api/status "):
                out = R_STATUS
            elif line.startswith(b"POST /api/led "):
                out = R_LED
            elif line.startswith(b"GET /_mem/start "):
                out = fixed(c.mem_start())
            elif line.startswith(b"GET /_mem/stop "):
                out = fixed(c.mem_stop())
            else:
                out = R_404
            writer.write(out)
            await writer.drain()
            if close:
                break
    except OSError:
        pass
    writer.close()
    await writer.wait_closed()


async def main(port):
    await asyncio.start_server(serve, "127.0.0.1", port)
    c.ready("bare", port)
    while True:
        await asyncio.sleep(3600)


asyncio.run(main(c.port_from_argv()))
