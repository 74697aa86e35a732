"""`python -m sandbox [--port 8900] [--certificate-mode]`: the WeChat sandbox on its own;
prints the settings that point an app at it."""

import argparse
import shlex
import time

from sandbox.server import SETTINGS_END, WeChatSandbox

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8900)
parser.add_argument("--certificate-mode", action="store_true")
args = parser.parse_args()
box = WeChatSandbox(notify_attempts=15, notify_delay_s=2)
box.start(port=args.port)
for name, value in box.env(certificate_mode=args.certificate_mode).items():
    print(f"export {name}={shlex.quote(value)}")
# The last line: a reader (local/dev.py) takes every setting above it, whichever come first
# or are added later (the message push's token and AES key came after the public key's id).
print(SETTINGS_END, flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    box.stop()
