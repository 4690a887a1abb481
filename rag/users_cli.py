"""``python -m rag users add|list|delete|reset-password``: accounts from the command line.

Passwords are read from standard input (``--password-stdin``), never from the command
line, where other users of the machine could see them in the process list."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from rag.auth import Accounts
from rag.settings import Settings, load_settings


def accounts_for(settings: Settings) -> Accounts:
    return Accounts(settings.data_dir, session_days=settings.session_days,
                    idle_hours=settings.session_idle_hours)


def _accounts(args: argparse.Namespace) -> Accounts:
    return accounts_for(load_settings(args.data))


def _read_password() -> str:
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def cmd_add(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    user = accounts.create_user(args.name, _read_password(),
                                role="admin" if args.admin else None)
    print(f"added {user.name} ({user.role}), home {accounts.home(user)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    users = accounts.users()
    if args.json:
        print(json.dumps([{"name": u.name, "role": u.role, "disabled": u.disabled,
                           "created": datetime.fromtimestamp(u.created, UTC).isoformat(),
                           "home": str(accounts.home(u))} for u in users], indent=2))
        return 0
    for u in users:
        created = datetime.fromtimestamp(u.created, UTC).strftime("%Y-%m-%d")
        state = "disabled" if u.disabled else "active"
        print(f"{u.name}\t{u.role}\t{state}\t{created}\t{accounts.home(u)}")
    print(f"{len(users)} accounts; registration {accounts.registration_mode()}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    accounts.get(args.name)  # a clear error for an unknown name, before asking
    if not args.yes:
        print(f"This deletes the account '{args.name}' with its documents, chats and "
              f"settings. Type the name to confirm: ", end="", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip() != args.name:
            print("not deleted", file=sys.stderr)
            return 1
    accounts.delete_user(args.name)
    print(f"deleted {args.name}")
    return 0


def cmd_reset_password(args: argparse.Namespace) -> int:
    _accounts(args).set_password(args.name, _read_password())
    print(f"password of {args.name} changed; their sessions ended")
    return 0


def add_users_parser(sub, common: argparse.ArgumentParser) -> None:
    users = sub.add_parser("users", help="manage accounts").add_subparsers(
        dest="action", required=True)
    p = users.add_parser("add", parents=[common], help="create an account (the first is "
                         "the administrator)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from standard input")
    p.add_argument("--admin", action="store_true", help="with administrator rights")
    p.set_defaults(run=cmd_add)
    p = users.add_parser("list", parents=[common], help="list accounts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_list)
    p = users.add_parser("delete", parents=[common],
                         help="delete an account with its documents and chats")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(run=cmd_delete)
    p = users.add_parser("reset-password", parents=[common], help="set a new password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from standard input")
    p.set_defaults(run=cmd_reset_password)
