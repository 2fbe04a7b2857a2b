"""``build-image --provider aws``: one CloudFormation stack per image, in ParallelCluster's shape of
EC2 Image Builder resources, from the image config (``ImageBuilderConfig``). Pure.

Resources (logical ids):

- ``InstanceRole`` + ``InstanceProfile`` (unless ``Build/Iam/InstanceRole`` or ``InstanceProfile``
  is given): what Image Builder's build and test instances need (AWS's
  ``AmazonSSMManagedInstanceCore`` and ``EC2InstanceProfileForImageBuilder``), read access to the
  buckets the ``script`` components name, ``AdditionalIamPolicies``, ``PermissionsBoundary``;
- ``UpdateOSComponent`` (``UpdateOsPackages/Enabled``; the kernel held back with
  ``DisableKernelUpdate``), ``CorralComponent`` (unless ``DisablePclusterComponent``: what a node's
  user data would otherwise install, Slurm, munge, iptables and Corral in ``/opt/corral``),
  ``ScriptComponent<N>`` per ``script`` component (downloads the script, ``S3Download`` or
  ``WebDownload``, and runs it), ``TagComponent`` (records the build in ``/opt/corral/image.json``),
  and with ``DisableValidateAndTest: false`` ``ValidateComponent``/``TestComponent`` (the Slurm,
  munge and Corral commands answer); ``arn`` components are used as they are;
- ``ImageRecipe`` (``ParentImage``, the components in that order, ``RootVolume``),
  ``InfrastructureConfiguration`` (``InstanceType``, ``SubnetId``, ``SecurityGroupIds``, IMDS,
  ``TerminateInstanceOnFailure``), ``DistributionConfiguration`` (the AMI's name, ``Image/Name``
  or the image id with the build date, its tags, ``Regions``, ``LaunchPermission``);
- ``CorralImage`` (``AWS::ImageBuilder::Image``): the build itself, logging to ``BuildLogGroup``,
  ``/aws/imagebuilder/CorralImage-<image id>`` (what ``describe-image``'s ``imageBuildLogsArn``
  names).

Every resource and the AMI carry ``corral:image-id`` (how ``describe-image``/``list-images`` find
the AMI), ``corral:version`` and the config's ``Build/Tags``; the AMI also ``Image/Tags``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from troposphere import Output, Ref, Sub, Tags, Template
from troposphere.iam import InstanceProfile, Policy, Role
from troposphere.imagebuilder import (
    AmiDistributionConfiguration,
    Component,
    ComponentConfiguration,
    Distribution,
    DistributionConfiguration,
    EbsInstanceBlockDeviceSpecification,
    Image,
    ImageLoggingConfiguration,
    ImageRecipe,
    ImageTestsConfiguration,
    InfrastructureConfiguration,
    InstanceBlockDeviceMapping,
    InstanceMetadataOptions,
    LaunchPermissionConfiguration,
)
from troposphere.logs import LogGroup

from corral import __version__
from corral.config.model.image_builder import ImageBuilderConfig
from corral.providers.aws.template._iam import ec2_assume_role_policy

IMAGE_ID_TAG = "corral:image-id"
VERSION_TAG = "corral:version"
IMAGE_NAME_TAG = "corral:image-name"
IMAGE_RESOURCE = "CorralImage"
LOG_GROUP_RESOURCE = "BuildLogGroup"
_SSM_CORE = "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
_IMAGE_BUILDER = "arn:${AWS::Partition}:iam::aws:policy/EC2InstanceProfileForImageBuilder"


def image_log_group(image_id: str) -> str:
    return f"/aws/imagebuilder/{IMAGE_RESOURCE}-{image_id}"


def semantic_version() -> str:
    """Corral's version as Image Builder's ``x.y.z``."""
    parts = [p for p in __version__.split(".")[:3] if p.isdigit()]
    return ".".join([*parts, "0", "0", "0"][:3])


def _tags(config: ImageBuilderConfig, image_id: str) -> dict[str, str]:
    tags = {t.key: t.value for t in config.build.tags}
    tags.update({IMAGE_ID_TAG: image_id, VERSION_TAG: __version__})
    return tags


def _document(name: str, phases: dict[str, list[dict[str, Any]]]) -> str:
    """An Image Builder component document (schemaVersion 1.0) as YAML."""
    return yaml.safe_dump(
        {
            "name": name,
            "schemaVersion": 1.0,
            "phases": [{"name": phase, "steps": steps} for phase, steps in phases.items()],
        },
        sort_keys=False,
        width=1 << 16,
    )


def _bash(name: str, *commands: str) -> dict[str, Any]:
    return {"name": name, "action": "ExecuteBash", "inputs": {"commands": list(commands)}}


def corral_commands() -> list[str]:
    """What a node's user data installs when the image lacks it (``_userdata``), done once here."""
    from corral.providers.aws.template._userdata import _PACKAGES

    return [
        "set -euo pipefail",
        *_PACKAGES.split("\n"),
        "python3 -m venv /opt/corral",
        f"/opt/corral/bin/pip install --quiet 'corral=={__version__}'",
    ]


def _update_os(config: ImageBuilderConfig) -> str:
    hold = config.dev_settings.disable_kernel_update
    apt = "apt-mark hold linux-image-$(uname -r) linux-aws || true; " if hold else ""
    dnf = " --exclude=kernel*" if hold else ""
    update = (
        f"if command -v apt-get >/dev/null; then {apt}apt-get update -q && "
        "DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade; "
        f"else dnf -y -q update{dnf} || yum -y -q update{dnf}; fi"
    )
    return _document(
        "UpdateOS",
        {
            "build": [
                _bash("UpdateOsPackages", "set -euo pipefail", update),
                {"name": "Reboot", "action": "Reboot"},
            ]
        },
    )


def _script(index: int, url: str) -> str:
    """Download the script (``S3Download`` for s3://, ``WebDownload`` for https://) and run it."""
    target = f"/var/tmp/corral-component-{index}"
    download = {
        "name": "Fetch",
        "action": "S3Download" if url.startswith("s3://") else "WebDownload",
        "inputs": [{"source": url, "destination": target}],
    }
    return _document(f"Script{index}", {"build": [download, _bash("Run", f"chmod +x {target}", target)]})


def _checks() -> list[str]:
    return [
        "set -euo pipefail",
        "command -v slurmctld && command -v slurmd && command -v sbatch",
        "command -v munged",
        "/opt/corral/bin/python -c 'import corral; print(corral.__version__)'",
    ]


def _component(
    template: Template, title: str, name: str, data: str, image_id: str, tags: dict[str, str]
) -> Any:
    template.add_resource(
        Component(
            title,
            Name=f"{name}-{image_id}",
            Version=semantic_version(),
            Platform="Linux",
            Data=data,
            Tags=tags,
        )
    )
    return Ref(title)


def _components(
    template: Template, config: ImageBuilderConfig, image_id: str, tags: dict[str, str]
) -> list[Any]:
    """Component ARNs in the recipe's order."""
    arns: list[Any] = []
    if config.build.update_os_packages.enabled:
        arns.append(
            _component(template, "UpdateOSComponent", "CorralUpdateOS", _update_os(config), image_id, tags)
        )
    if not config.dev_settings.disable_pcluster_component:
        body = _document("Corral", {"build": [_bash("InstallCorral", *corral_commands())]})
        arns.append(_component(template, "CorralComponent", "Corral", body, image_id, tags))
    for index, component in enumerate(config.build.components):
        if component.type == "arn":
            arns.append(component.value)
        else:
            title = f"ScriptComponent{index}"
            arns.append(
                _component(
                    template, title, f"CorralScript{index}", _script(index, component.value), image_id, tags
                )
            )
    record = json.dumps({"image_id": image_id, "corral_version": __version__})
    tag_body = _document(
        "Tag",
        {"build": [_bash("Record", "mkdir -p /opt/corral", f"echo '{record}' > /opt/corral/image.json")]},
    )
    arns.append(_component(template, "TagComponent", "CorralTag", tag_body, image_id, tags))
    if not config.dev_settings.disable_validate_and_test:
        validate = _document("Validate", {"validate": [_bash("Commands", *_checks())]})
        test = _document("Test", {"test": [_bash("Commands", *_checks())]})
        arns.append(_component(template, "ValidateComponent", "CorralValidate", validate, image_id, tags))
        arns.append(_component(template, "TestComponent", "CorralTest", test, image_id, tags))
    return arns


def _script_buckets(config: ImageBuilderConfig) -> list[str]:
    return sorted(
        {
            c.value[len("s3://") :].split("/", 1)[0]
            for c in config.build.components
            if c.value.startswith("s3://")
        }
    )


def _profile(template: Template, config: ImageBuilderConfig, image_id: str, tags: dict[str, str]) -> Any:
    """The instance profile's name for the infrastructure configuration."""
    iam = config.build.iam
    if iam is not None and iam.instance_profile:
        return iam.instance_profile.rsplit("/", 1)[-1]
    if iam is not None and iam.instance_role:
        template.add_resource(
            InstanceProfile(
                "InstanceProfile", Roles=[iam.instance_role.rsplit("/", 1)[-1]], Path="/corral/images/"
            )
        )
        return Ref("InstanceProfile")
    statements: list[dict[str, Any]] = []
    buckets = _script_buckets(config)
    if buckets:
        resources = [Sub(f"arn:${{AWS::Partition}}:s3:::{b}/*") for b in buckets]
        statements.append(
            {"Sid": "ComponentScripts", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": resources}
        )
    role = Role(
        "InstanceRole",
        AssumeRolePolicyDocument=ec2_assume_role_policy(),
        Path="/corral/images/",
        ManagedPolicyArns=[
            Sub(_SSM_CORE),
            Sub(_IMAGE_BUILDER),
            *(p.policy for p in (iam.additional_iam_policies if iam else ())),
        ],
        Tags=Tags(dict(sorted(tags.items()))),
    )
    if statements:
        role.Policies = [
            Policy(
                PolicyName="corral-image-build",
                PolicyDocument={"Version": "2012-10-17", "Statement": statements},
            )
        ]
    if iam is not None and iam.permissions_boundary:
        role.PermissionsBoundary = iam.permissions_boundary
    template.add_resource(role)
    template.add_resource(InstanceProfile("InstanceProfile", Roles=[Ref(role)], Path="/corral/images/"))
    return Ref("InstanceProfile")


def _recipe(
    config: ImageBuilderConfig, image_id: str, components: list[Any], tags: dict[str, str], root_device: str
) -> ImageRecipe:
    recipe = ImageRecipe(
        "ImageRecipe",
        Name=f"{IMAGE_RESOURCE}-{image_id}",
        Version=semantic_version(),
        ParentImage=config.build.parent_image,
        Components=[ComponentConfiguration(ComponentArn=arn) for arn in components],
        WorkingDirectory="/var/tmp",
        Tags=tags,
    )
    root = config.image.root_volume
    if root is not None:
        ebs = EbsInstanceBlockDeviceSpecification(
            VolumeType="gp3", Encrypted=bool(root.encrypted), DeleteOnTermination=True
        )
        if root.size:
            ebs.VolumeSize = root.size
        if root.kms_key_id:
            ebs.KmsKeyId = root.kms_key_id
        recipe.BlockDeviceMappings = [InstanceBlockDeviceMapping(DeviceName=root_device, Ebs=ebs)]
    return recipe


def _infrastructure(
    config: ImageBuilderConfig, image_id: str, profile: Any, tags: dict[str, str]
) -> InfrastructureConfiguration:
    infra = InfrastructureConfiguration(
        "InfrastructureConfiguration",
        Name=f"{IMAGE_RESOURCE}-{image_id}",
        InstanceProfileName=profile,
        InstanceTypes=[config.build.instance_type],
        TerminateInstanceOnFailure=config.dev_settings.terminate_instance_on_failure,
        InstanceMetadataOptions=InstanceMetadataOptions(
            HttpTokens="required" if config.build.imds.imds_support == "v2.0" else "optional"
        ),
        ResourceTags=tags,
        Tags=tags,
    )
    if config.build.subnet_id:
        infra.SubnetId = config.build.subnet_id
    if config.build.security_group_ids:
        infra.SecurityGroupIds = list(config.build.security_group_ids)
    return infra


def _distribution(
    config: ImageBuilderConfig, image_id: str, tags: dict[str, str]
) -> DistributionConfiguration:
    ami_tags = {t.key: t.value for t in config.image.tags}
    ami_tags.update(tags)
    ami_tags[IMAGE_NAME_TAG] = config.image.name or image_id
    ami = AmiDistributionConfiguration(
        Name=f"{config.image.name or image_id} {{{{ imagebuilder:buildDate }}}}",
        AmiTags=ami_tags,
        Description=f"Corral {__version__} image {image_id}",
    )
    settings = config.dev_settings.distribution_configuration
    if settings is not None and settings.launch_permission:
        permission = json.loads(settings.launch_permission)
        ami.LaunchPermissionConfiguration = LaunchPermissionConfiguration(**permission)
    regions: list[Any] = (
        settings.regions.split(",") if settings is not None and settings.regions else [Ref("AWS::Region")]
    )
    return DistributionConfiguration(
        "DistributionConfiguration",
        Name=f"{IMAGE_RESOURCE}-{image_id}",
        Distributions=[Distribution(Region=region, AmiDistributionConfiguration=ami) for region in regions],
        Tags=tags,
    )


def build_image_template(
    config: ImageBuilderConfig, image_id: str, *, root_device: str = "/dev/xvda"
) -> dict[str, Any]:
    """The image stack's template. ``root_device`` is the parent image's root device name
    (DescribeImages; ``RootVolume`` applies to it)."""
    template = Template(Description=f"Corral image {image_id} (corral {__version__})")
    template.set_version("2010-09-09")
    tags = _tags(config, image_id)
    template.add_resource(
        LogGroup(
            LOG_GROUP_RESOURCE,
            LogGroupName=image_log_group(image_id),
            RetentionInDays=14,
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Tags=Tags(dict(sorted(tags.items()))),
        )
    )
    profile = _profile(template, config, image_id, tags)
    components = _components(template, config, image_id, tags)
    template.add_resource(_recipe(config, image_id, components, tags, root_device))
    template.add_resource(_infrastructure(config, image_id, profile, tags))
    template.add_resource(_distribution(config, image_id, tags))
    template.add_resource(
        Image(
            IMAGE_RESOURCE,
            ImageRecipeArn=Ref("ImageRecipe"),
            InfrastructureConfigurationArn=Ref("InfrastructureConfiguration"),
            DistributionConfigurationArn=Ref("DistributionConfiguration"),
            EnhancedImageMetadataEnabled=False,
            ImageTestsConfiguration=ImageTestsConfiguration(
                ImageTestsEnabled=not config.dev_settings.disable_validate_and_test
            ),
            LoggingConfiguration=ImageLoggingConfiguration(LogGroupName=Ref(LOG_GROUP_RESOURCE)),
            Tags=tags,
        )
    )
    template.add_output(Output("ImageArn", Value=Ref(IMAGE_RESOURCE)))
    template.add_output(Output("LogGroupName", Value=Ref(LOG_GROUP_RESOURCE)))
    return template.to_dict()


__all__ = [
    "IMAGE_ID_TAG",
    "IMAGE_NAME_TAG",
    "IMAGE_RESOURCE",
    "VERSION_TAG",
    "build_image_template",
    "image_log_group",
    "semantic_version",
]
