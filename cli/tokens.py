"""``twin token``: access tokens of admins, planners and kiosk devices, straight in the database.

- ``twin token issue --role planner|admin|kiosk [--department D] [--name N] [--days 90] [--out FILE]``
  prints the new token once (or writes it to FILE, mode 0600, atomically); only its hash is stored.
- ``twin token list [--json]``: holders, roles, expiry and revocation (never the tokens).
- ``twin token revoke USER_ID``: the token stops working at once (REST and new websocket sessions).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from cli.errors import CliError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    tp = sub.add_parser("token", help="Zugangsschlüssel verwalten / manage access tokens")
    tsub = tp.add_subparsers(dest="token_command", metavar="ACTION")
    ip = tsub.add_parser("issue", help="Schlüssel ausgeben / issue a token")
    ip.add_argument("--role", required=True, choices=("admin", "planner", "kiosk"))
    ip.add_argument("--department", default="", help="department of a planner")
    ip.add_argument("--name", default="", help="holder or device name")
    ip.add_argument("--days", type=int, default=90, help="lifetime in days (1..3650, default 90)")
    ip.add_argument("--out", default=None, help="write the token to this file (mode 0600) instead of printing it")
    ip.add_argument("--db", default=None, help="database URL (default sqlite:///<data>/landtwin.sqlite)")
    ip.set_defaults(func=run_issue)
    lp = tsub.add_parser("list", help="Schlüssel auflisten / list tokens")
    lp.add_argument("--json", action="store_true")
    lp.add_argument("--db", default=None)
    lp.set_defaults(func=run_list)
    rp = tsub.add_parser("revoke", help="Schlüssel widerrufen / revoke a token")
    rp.add_argument("user_id")
    rp.add_argument("--db", default=None)
    rp.set_defaults(func=run_revoke)
    tp.set_defaults(func=lambda args: (tp.print_help(), 1)[1])


def _storage(args: argparse.Namespace):
    from server.settings import Settings
    from server.storage import Storage, StorageError

    settings = Settings.from_env(data=args.data_dir, db_url=args.db)
    try:
        return Storage(settings.db_url)
    except StorageError as exc:
        raise CliError(str(exc)) from None


def _text(value: str, what: str) -> str:
    if len(value) > 200 or any(ord(c) < 32 for c in value):
        raise CliError(f"{what} ungültig (höchstens 200 druckbare Zeichen) / invalid {what} (at most 200 printable characters)")
    return value


def run_issue(args: argparse.Namespace) -> int:
    from server.roles import new_token
    from server.storage import utc_in, write_secret

    if not 1 <= args.days <= 3650:
        raise CliError(f"--days muss 1..3650 sein, nicht {args.days} / --days must be 1..3650")
    department, name = _text(args.department, "Abteilung/department"), _text(args.name, "Name/name")
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise CliError(f"Ordner {out.parent} gibt es nicht / folder does not exist")
    st = _storage(args)
    try:
        token = new_token()
        expires = utc_in(args.days * 86400.0)
        user_id = st.add_token(token, role=args.role, department=department, name=name, expires_utc=expires)
    finally:
        st.dispose()
    if out is not None:
        write_secret(out, token + "\n")
        print(f"{args.role} {user_id}: Schlüssel in {out} / token written (gültig bis / expires {expires})")
    else:
        print(token)
        print(f"{args.role} {user_id}, gültig bis / expires {expires}", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    st = _storage(args)
    try:
        rows = st.list_tokens()
    finally:
        st.dispose()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        state = f"widerrufen / revoked {r['revoked_utc']}" if r["revoked_utc"] else f"bis / until {r['expires_utc'] or '-'}"
        print(f"{r['user_id']:<12} {r['role']:<8} {r['department'][:24]:<24} {r['name'][:24]:<24} {state}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", args.user_id):
        raise CliError(f"Ungültige Kennung {args.user_id!r} / invalid user id")
    st = _storage(args)
    try:
        ok = st.revoke_token(args.user_id)
    finally:
        st.dispose()
    if not ok:
        raise CliError(f"Kein gültiger Schlüssel für {args.user_id!r} / no valid token for this user id")
    print(f"{args.user_id}: widerrufen / revoked")
    return 0
