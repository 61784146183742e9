"""How the test apps in tests_host/apps serve, on both runtimes: on 127.0.0.1 until the test
stops the process, announcing the port with the line the tests wait for (``listening on``)."""

import asyncio


def serve_forever(app, port):
    async def main():
        await app.start("127.0.0.1", port)
        print("listening on %d" % port)
        while True:
            await asyncio.sleep(3600)

    asyncio.run(main())
