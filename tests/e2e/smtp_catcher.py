"""A real SMTP server for the mail tests (aiosmtpd, from PyPI): every message it accepts is
written to OUT_DIR as one JSON file, decoded by Python's email package (headers, the
plain-text and HTML parts). Usage: smtp_catcher.py PORT OUT_DIR. Prints "ready" once it
listens; runs until killed."""

import email
import email.policy
import json
import os
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Catcher:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg.get("from", "")),
            "to": str(msg.get("to", "")),
            "subject": str(msg.get("subject", "")),
            "message_id": str(msg.get("message-id", "")),
            "list_unsubscribe": str(msg.get("list-unsubscribe", "")),
            "list_unsubscribe_post": str(msg.get("list-unsubscribe-post", "")),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        with self.lock:
            self.count += 1
            name = "%d-%04d.json" % (time.time_ns(), self.count)
        path = os.path.join(self.out, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    controller = Controller(Catcher(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
