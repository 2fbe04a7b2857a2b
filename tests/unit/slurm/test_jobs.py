"""Batch scripts' #SBATCH options and ``scontrol -o show job`` as ``corral run`` reads them."""

from __future__ import annotations

from corral.slurm.jobs import parse_jobs, sbatch_options, sets_option

SHOW_JOB = (
    "JobId=7 JobName=hello UserId=root(0) JobState=COMPLETED Reason=None Dependency=(null) Restarts=0"
    " ExitCode=0:0 RunTime=00:00:03 StartTime=2026-12-04T15:00:00 EndTime=2026-12-04T15:00:03"
    " Partition=compute NodeList=compute-st-c5-1 WorkDir=/home/corral-run/x StdErr=/home/x/slurm-7.out"
    " StdOut=/home/x/slurm-7.out\n"
    "JobId=8 JobName=bad JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 Partition=compute"
    " NodeList=compute-st-c5-1 StdOut=/home/x/slurm-8.out\n"
    "JobId=9 JobName=killed JobState=CANCELLED Reason=None ExitCode=0:15 Partition=compute NodeList=(null)\n"
    "JobId=10 JobName=held JobState=PENDING Reason=JobHeldUser ExitCode=0:0 Partition=compute\n"
    "JobId=11 JobName=waiting JobState=PENDING Reason=Resources ExitCode=0:0 Partition=compute\n"
)


def test_sbatch_options_stop_at_the_first_command_as_sbatch_does() -> None:
    script = (
        "#!/bin/bash\n#SBATCH --nodes=2\n# a comment\n\n#SBATCH -o out.txt --chdir /tmp  # trailing\n"
        "echo hi\n#SBATCH --ignored\n"
    )
    assert sbatch_options(script) == ["--nodes=2", "-o", "out.txt", "--chdir", "/tmp"]


def test_sets_option_knows_every_spelling() -> None:
    assert sets_option(["--output=x"], "-o", "--output")
    assert sets_option(["--output", "x"], "-o", "--output")
    assert sets_option(["-ox"], "-o", "--output")
    assert sets_option(["-D", "/tmp"], "-D", "--chdir")
    assert not sets_option(["--open-mode=append"], "-o", "--output")
    assert not sets_option(["--nodes=2"], "-D", "--chdir")


def test_parse_jobs_reads_states_exit_codes_and_paths() -> None:
    jobs = {j.job_id: j for j in parse_jobs(SHOW_JOB)}
    assert jobs["7"].succeeded and jobs["7"].finished and jobs["7"].status_code == 0
    assert jobs["7"].work_dir == "/home/corral-run/x" and jobs["7"].stdout == "/home/x/slurm-7.out"
    assert jobs["8"].status_code == 3 and not jobs["8"].succeeded
    assert jobs["9"].status_code == 128 + 15 and jobs["9"].nodes == ""
    assert jobs["10"].never_starts and not jobs["10"].finished
    assert not jobs["11"].never_starts


def test_parse_jobs_ignores_what_is_not_a_job() -> None:
    assert parse_jobs("No jobs in the system\n") == []
