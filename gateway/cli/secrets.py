"""`ewg secrets new`: fresh production secrets as environment lines, for an env file or a vault."""

from gateway.cli.common import add_config
from gateway.deployment import new_secrets_env


def register(sub) -> None:
    secrets = sub.add_parser("secrets", help="production secrets")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", required=True)
    new = secrets_sub.add_parser("new", help="print fresh secrets as EWG_* environment lines")
    add_config(new)
    new.set_defaults(handler=print_new_secrets)


def print_new_secrets(args, settings) -> int:
    print(new_secrets_env())
    return 0
