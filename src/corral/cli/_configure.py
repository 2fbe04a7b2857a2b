"""``corral configure``: pcluster's interactive wizard that writes a cluster config.

The same questions as ``pcluster configure`` (Region, key pair, scheduler, OS, head node instance
type, queues and their compute resources, EFA, maximum counts, subnets), in the same order and
the same ``Message [default]: `` form, so that answers can be piped in (one line per prompt, an
empty line takes the default). Corral adds one question, shared storage, after the queues.

Offline by default: Regions, OSes and instance types come from pcluster's lists and Corral's
instance catalog, and the key pair and subnets are typed in. With ``--provider aws`` the provider
lists the account's key pairs and subnets (``Provider.configure_choices``) and they are chosen from.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from corral.errors import BadRequestError

OSES = ("alinux2", "alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9", "rocky8", "rocky9")
#: pcluster also offers awsbatch; Corral runs Slurm only.
SCHEDULERS = ("slurm",)
DEFAULT_INSTANCE_TYPE = "t3.micro"
DEFAULT_MAX_COUNT = 10
MAX_QUEUES = 50
MAX_COMPUTE_RESOURCES = 50
STORAGE_TYPES = ("none", "Ebs", "Efs", "FsxLustre")
SUBNET = re.compile(r"^subnet-[0-9a-z]{8}([0-9a-z]{9})?$")
QUEUE_NAME = re.compile(r"^[a-z][a-z0-9\-]{0,24}$")
PLACEHOLDER_SUBNET = "subnet-0123456789abcdef0"


class Prompter:
    """Asks on ``out`` and reads answers from ``inp``, pcluster's way: ``Message [default]: ``; a
    wrong answer is refused with ``ERROR: ...`` and asked again; the end of the input is an error
    naming the question (a script gave too few answers)."""

    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self.inp, self.out = inp, out

    def ask(self, message: str, default: object, valid: Callable[[str], bool] = lambda _: True) -> str:
        while True:
            self.out.write(f"{message} [{default}]: ")
            self.out.flush()
            line = self.inp.readline()
            if not line:
                self.out.write("\n")
                raise BadRequestError(
                    f"configure: the input ended at the question {message!r}",
                    hint="answer every question (one line each; an empty line takes the default)",
                )
            answer = line.strip() or str(default)
            if valid(answer):
                return answer
            self.out.write(f"ERROR: {answer} is not an acceptable value for {message}\n")

    def choose(self, message: str, options: Sequence[str], default: str | None = None) -> str:
        """One of ``options``, by value or by its number in the printed list."""
        if not options:
            raise BadRequestError(f"configure: no options found for {message}")
        self.out.write(f"Allowed values for {message}:\n")
        for i, option in enumerate(options, start=1):
            self.out.write(f"{i}. {option}\n")
        chosen = default if default in options else options[0]

        def pick(answer: str) -> str:
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1]
            return answer

        return pick(self.ask(message, chosen, lambda a: pick(a) in options))

    def yes(self, message: str, default: bool) -> bool:
        answer = self.ask(f"{message} (y/n)", "y" if default else "n", lambda a: a in ("y", "n"))
        return answer == "y"


@dataclass(frozen=True)
class Choices:
    """What the wizard offers: Regions, key pairs and subnets (empty: typed in), instance types."""

    regions: tuple[str, ...]
    key_pairs: tuple[str, ...] = ()
    subnets: tuple[str, ...] = ()
    instance_type: Callable[[str], bool] = lambda _: True
    efa: Callable[[str], bool] = lambda _: False


def offline_choices() -> Choices:
    from corral.config import catalog
    from corral.config.regions import SUPPORTED_REGIONS

    def efa(name: str) -> bool:
        info = catalog.get(name)
        return bool(info and info.efa_supported)

    return Choices(tuple(sorted(SUPPORTED_REGIONS)), instance_type=catalog.exists, efa=efa)


def _count(limit: int) -> Callable[[str], bool]:
    return lambda a: a.isdigit() and 1 <= int(a) <= limit


def _new_instance_type(choices: Choices, taken: set[str]) -> Callable[[str], bool]:
    """A known instance type not already used in the queue (pcluster refuses duplicates)."""
    return lambda a: choices.instance_type(a) and a not in taken


def _new_queue_name(names: set[str]) -> Callable[[str], bool]:
    return lambda a: bool(QUEUE_NAME.match(a)) and a not in names


def _compute_resources(p: Prompter, choices: Choices, queue: str, limit: int) -> list[dict[str, Any]]:
    count = int(p.ask(f"Number of compute resources for {queue}", 1, _count(limit)))
    resources: list[dict[str, Any]] = []
    for index in range(1, count + 1):
        taken = {r["Instances"][0]["InstanceType"] for r in resources}
        instance_type = p.ask(
            f"Compute instance type for compute resource {index} in {queue}",
            DEFAULT_INSTANCE_TYPE,
            _new_instance_type(choices, taken),
        )
        resource: dict[str, Any] = {
            "Name": re.sub(r"[^A-Za-z0-9]", "", instance_type),
            "Instances": [{"InstanceType": instance_type}],
            "MinCount": 0,
        }
        if choices.efa(instance_type):
            resource["Efa"] = {"Enabled": p.yes(f"Enable EFA on {instance_type}", True)}
        resource["MaxCount"] = int(p.ask("Maximum instance count", DEFAULT_MAX_COUNT, lambda a: a.isdigit()))
        resources.append(resource)
    return resources


def _queues(p: Prompter, choices: Choices) -> list[dict[str, Any]]:
    count = int(p.ask("Number of queues", 1, _count(MAX_QUEUES)))
    queues: list[dict[str, Any]] = []
    for index in range(1, count + 1):
        names = {q["Name"] for q in queues}
        name = p.ask(
            f"Name of queue {index}",
            f"queue{index}",
            _new_queue_name(names),
        )
        resources = _compute_resources(p, choices, name, MAX_COMPUTE_RESOURCES // count)
        queue: dict[str, Any] = {"Name": name, "ComputeResources": resources}
        if any(r.get("Efa", {}).get("Enabled") for r in resources):
            queue["Networking"] = {"PlacementGroup": {"Enabled": True}}
        queues.append(queue)
    return queues


def _subnet(p: Prompter, choices: Choices, message: str, default: str) -> str:
    if choices.subnets:
        return p.choose(message, choices.subnets, default)
    return p.ask(message, default, lambda a: bool(SUBNET.match(a)))


def _storage(p: Prompter) -> list[dict[str, Any]]:
    kind = p.choose("Shared storage type", STORAGE_TYPES, "none")
    if kind == "none":
        return []
    mount = p.ask("Shared storage mount directory", "/shared", lambda a: a.startswith("/") and a != "/")
    settings = {"Ebs": "EbsSettings", "Efs": "EfsSettings", "FsxLustre": "FsxLustreSettings"}[kind]
    body: dict[str, Any] = {"DeletionPolicy": "Delete"}
    if kind == "FsxLustre":
        body["StorageCapacity"] = 1200
    return [{"Name": "shared", "StorageType": kind, "MountDir": mount, settings: body}]


#: The account's choices in a Region (``Provider.configure_choices``), or None offline.
AccountLister = Callable[[str], "dict[str, list[str]] | None"]


def ask_config(
    p: Prompter, choices: Choices, region: str | None, account: AccountLister | None = None
) -> dict[str, Any]:
    """Every question, in pcluster's order; the config as a mapping. ``account`` lists the key
    pairs and subnets of the chosen Region (asked once the Region is known)."""
    from dataclasses import replace

    if region is None:
        region = p.choose(
            "AWS Region ID", choices.regions, os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )
    listed = account(region) if account is not None else None
    if listed is not None:
        choices = replace(choices, key_pairs=tuple(listed["key_pairs"]), subnets=tuple(listed["subnets"]))
        if not choices.key_pairs:
            raise BadRequestError(
                f"configure: no EC2 key pair in {region}",
                hint=f"create one first: aws ec2 create-key-pair --region {region} --key-name NAME",
            )
    if choices.key_pairs:
        key_name = p.choose("EC2 Key Pair Name", choices.key_pairs)
    else:
        key_name = p.ask("EC2 Key Pair Name", "corral-key", lambda a: bool(a) and len(a) <= 255)
    scheduler = p.choose("Scheduler", SCHEDULERS, "slurm")
    base_os = p.choose("Operating System", OSES, "alinux2023")
    head_type = p.ask("Head node instance type", DEFAULT_INSTANCE_TYPE, choices.instance_type)
    queues = _queues(p, choices)
    head_subnet = _subnet(p, choices, "head node subnet ID", PLACEHOLDER_SUBNET)
    compute_subnet = _subnet(p, choices, "compute subnet ID", head_subnet)
    for queue in queues:
        queue.setdefault("Networking", {})["SubnetIds"] = [compute_subnet]
    config: dict[str, Any] = {
        "Region": region,
        "Image": {"Os": base_os},
        "HeadNode": {
            "InstanceType": head_type,
            "Networking": {"SubnetId": head_subnet},
            "Ssh": {"KeyName": key_name},
        },
        "Scheduling": {"Scheduler": scheduler, "SlurmQueues": queues},
    }
    storage = _storage(p)
    if storage:
        config["SharedStorage"] = storage
    return config


def run_configure(
    path: str,
    *,
    region: str | None,
    choices: Choices,
    account: AccountLister | None = None,
    inp: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    """The wizard: refuse an existing path, ask, write the YAML file."""
    import yaml

    target = Path(path)
    if target.exists() or target.is_symlink():
        raise BadRequestError(
            f"A file/folder exists at {path}. Please specify a different file path",
            hint="configure never overwrites a file: choose a new path",
        )
    if region is not None:
        from corral.config.regions import check_region

        check_region(region)
    out.write(
        f"INFO: Configuration file {path} will be written.\nPress CTRL-C to interrupt the procedure.\n\n"
    )
    config = ask_config(Prompter(inp, out), choices, region, account)
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    with open(target, "x", encoding="utf-8") as handle:
        handle.write(text)
    out.write(
        f"Configuration file written to {path}\nYou can edit your configuration file or simply run "
        f"'corral create-cluster --cluster-configuration {path} --cluster-name cluster-name "
        f"--region {config['Region']}' to create your cluster.\n"
    )


__all__ = ["Choices", "Prompter", "ask_config", "offline_choices", "run_configure"]
