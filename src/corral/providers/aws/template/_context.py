"""What every template part reads: the cluster (plan + validated config), its tags, and the values
the root stack shares with its nested queue stacks (as Refs in the root, as Parameters below it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from troposphere import Parameter, Ref, Template

from corral.config.model import ClusterConfig
from corral.errors import BadRequestError
from corral.plan import ClusterPlan
from corral.providers.aws.template._names import Tagging, role_path

#: Public SSM parameters of the latest official image of each OS, by architecture. RHEL and Rocky
#: publish none, so their default points at a Corral path the user sets (or the provider passes
#: the ``ImageId<Arch>`` parameter directly).
_IMAGE_SSM = {
    "alinux2": "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-{arch}-gp2",
    "alinux2023": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
    "ubuntu2004": "/aws/service/canonical/ubuntu/server/20.04/stable/current/{deb}/hvm/ebs-gp2/ami-id",
    "ubuntu2204": "/aws/service/canonical/ubuntu/server/22.04/stable/current/{deb}/hvm/ebs-gp2/ami-id",
    "ubuntu2404": "/aws/service/canonical/ubuntu/server/24.04/stable/current/{deb}/hvm/ebs-gp3/ami-id",
}
_DEB_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def image_ssm_path(os_name: str, arch: str) -> str:
    """The SSM parameter path whose value is the default image of ``os_name`` on ``arch``."""
    pattern = _IMAGE_SSM.get(os_name, "/corral/images/" + os_name + "/{arch}")
    return pattern.format(arch=arch, deb=_DEB_ARCH.get(arch, arch))


def image_parameter_name(arch: str) -> str:
    """``ImageIdX8664`` / ``ImageIdArm64``: the template parameter for the default image of ``arch``."""
    return "ImageId" + arch.replace("_", "").capitalize()


@dataclass(frozen=True)
class Shared:
    """Values made in the root stack and used in queue stacks."""

    compute_security_groups: tuple[Any, ...]
    head_private_ip: Any
    table_name: Any
    table_arn: Any
    log_group_name: Any  # a template value (Ref/Join in the root, the parameter in a queue stack)
    images: dict[str, Any] = field(default_factory=dict)  # arch -> image id (Ref)
    stack_name: Any = None


@dataclass(frozen=True)
class Cluster:
    """The cluster being rendered: its plan, config and tags."""

    plan: ClusterPlan
    config: ClusterConfig
    tagging: Tagging

    @property
    def name(self) -> str:
        return self.plan.cluster_name

    @classmethod
    def of(cls, plan: ClusterPlan) -> Cluster:
        if plan.config is None:
            raise BadRequestError(
                f"cluster {plan.cluster_name!r}: the plan carries no config, so no AWS template can be built",
                hint="build the plan with corral.plan.build_plan(config, cluster_name=...)",
            )
        return cls(plan=plan, config=plan.config, tagging=Tagging(plan.cluster_name, tuple(plan.tags)))

    @property
    def role_path(self) -> str:
        """The IAM path of the cluster's roles (``Iam/ResourcePrefix``'s path part in front)."""
        return role_path(self.name, self.config.iam.resource_prefix if self.config.iam else None)

    def queue_architecture(self, queue: str) -> str:
        """The architecture of a queue's nodes (validators keep one architecture per cluster)."""
        for node in self.plan.nodes:
            if node.queue == queue:
                return node.shape.architecture
        return self.plan.head_node.shape.architecture

    def architectures(self) -> list[str]:
        """Every architecture a default image (no CustomAmi) is needed for, sorted."""
        if self.config.image.custom_ami:
            return []
        found = set()
        if self.config.head_node.image is None:
            found.add(self.plan.head_node.shape.architecture)
        for queue in self.config.scheduling.slurm_queues:
            if queue.image is None:
                found.add(self.queue_architecture(queue.name))
        return sorted(found)


def add_image_parameters(template: Template, cluster: Cluster) -> dict[str, Any]:
    """One ``ImageId<Arch>`` parameter per architecture, defaulting to the OS's public SSM path."""
    refs: dict[str, Any] = {}
    for arch in cluster.architectures():
        name = image_parameter_name(arch)
        template.add_parameter(
            Parameter(
                name,
                Type="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                Default=image_ssm_path(cluster.config.image.os, arch),
                Description=f"SSM parameter naming the default {cluster.config.image.os} image for {arch}",
            )
        )
        refs[arch] = Ref(name)
    return refs
