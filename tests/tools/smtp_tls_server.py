"""A mail submission server for the tests, as a facility's relay is set up: STARTTLS required
before anything else, then AUTH (PLAIN or LOGIN) required before MAIL. Each accepted message
is appended to OUT as one JSON line {"login", "tls", "mail_from", "rcpt_tos", "data"}.

Usage: smtp_tls_server.py PORT CERT KEY USER PASSWORD OUT   (runs until killed)
Needs aiosmtpd (Debian: python3-aiosmtpd).
"""

import json
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class Keep:
    async def handle_DATA(self, server, session, envelope):
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with open(out, "a", encoding="utf-8") as f:
            f.write(
                json.dumps(
                    {
                        "login": login,
                        "tls": session.ssl is not None,
                        "mail_from": envelope.mail_from,
                        "rcpt_tos": envelope.rcpt_tos,
                        "data": envelope.content.decode("utf-8", "replace"),
                    }
                )
                + "\n"
            )
        return "250 OK"


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
controller = Controller(
    Keep(),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=tls,
    require_starttls=True,
    authenticator=authenticator,
    auth_require_tls=True,
)
controller.start()
print("listening", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
