"""Multi-process runs: every trainer option composes; DDP and FSDP2 over 2 CPU processes (gloo)
give the labels one process gives and, within rounding, its weights; a sharded fine-tune saves a
plain Hugging Face folder; an interrupted fine-tune resumes, from sharded checkpoints too."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

from tests.conftest import HANG_GUARD_S, TINY, compose_config, copy_cache, unlearn_cli
from unlearn.blocks import BlockDataset
from unlearn.errors import UserError
from unlearn.training.sampling import WEIGHTLESS, ShardedBatches
from unlearn.training.spec import FitSpec
from unlearn.training.trainer import TrainerFactory, fit

TRAINERS = ["cpu", "gpu", "ddp_cpu", "fsdp_cpu", "ddp", "fsdp", "deepspeed", "a100x4", "h100x8"]


def _tiny_llama() -> LlamaForCausalLM:
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=32)  # fmt: skip
    return LlamaForCausalLM(config)


@pytest.mark.parametrize("option", TRAINERS)
def test_every_trainer_option_composes(option, tmp_path):
    cfg = compose_config([f"trainer={option}"], tmp_path)
    OmegaConf.resolve(cfg)
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer"
    assert isinstance(cfg.trainer.num_nodes, int) and cfg.trainer.checkpoint_every_n_epochs >= 0
    if option not in ("cpu", "ddp_cpu", "fsdp_cpu"):
        assert cfg.trainer.precision == "bf16-mixed", "bf16 weights would round away the paper's lr-1e-6 updates"


@pytest.mark.parametrize(
    ("option", "devices", "param_dtype", "reshard", "recompute"),
    [
        ("fsdp", -1, torch.bfloat16, True, True),
        ("a100x4", 4, torch.bfloat16, True, True),
        ("h100x8", 8, torch.bfloat16, False, False),
        ("fsdp_cpu", 2, torch.float32, True, True),
    ],
)
def test_fsdp_shards_the_decoder_layer_the_model_names(option, devices, param_dtype, reshard, recompute, tmp_path):
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    from unlearn.training.strategies import FullyShardedStrategy

    cfg = compose_config([f"trainer={option}"], tmp_path)
    assert cfg.trainer.devices == devices
    strategy = TrainerFactory(cfg.trainer, None).strategy(_tiny_llama())
    assert isinstance(strategy, FullyShardedStrategy) and strategy._save_distributed_checkpoint, "resume from sharded checkpoints"
    plan = strategy.plan
    assert plan.layer_classes == {LlamaDecoderLayer}
    assert (plan.reshard_after_forward, cfg.trainer.activation_checkpointing) == (reshard, recompute)
    assert plan.param_dtype == param_dtype and plan.reduce_dtype == torch.float32, "gradients are reduced in fp32"


def test_deepspeed_without_deepspeed_says_how_to_get_it(tmp_path):
    pytest.importorskip("pytorch_lightning")
    if __import__("importlib").util.find_spec("deepspeed") is not None:
        pytest.skip("deepspeed is installed here")
    for stage in (2, 3):
        cfg = compose_config(["trainer=deepspeed", f"trainer.strategy.stage={stage}"], tmp_path)
        with pytest.raises(UserError, match="pip install deepspeed"):
            TrainerFactory(cfg.trainer, None).strategy(_tiny_llama())


def test_cpu_trainer_runs_a_step(tmp_path):
    cfg = compose_config(["trainer=cpu", "+trainer.enable_progress_bar=false"], tmp_path)
    ids = torch.randint(3, 64, (4, 16))
    dataset = BlockDataset(ids, torch.ones_like(ids), ids.clone())
    result = fit(_tiny_llama(), dataset, FitSpec(epochs=1, lr=1e-3, batch_size=4), TrainerFactory(cfg.trainer, None), "test", 0)
    assert len(result.losses) == 1 and result.is_main


def test_processes_split_every_batch_of_the_one_process_order():
    one = ShardedBatches(11, 4, seed=3)
    two = [ShardedBatches(11, 4, seed=3, rank=r, world_size=2) for r in range(2)]
    three = [ShardedBatches(11, 3, seed=3, rank=r, world_size=3) for r in range(3)]
    for epoch in (0, 2):
        for sampler in [one, *two]:
            sampler.sampler.set_epoch(epoch)
        for whole, *slices in zip(one, *two, strict=True):
            assert sorted(i for part in slices for i in part) == sorted(whole)
    last = [list(s)[-1] for s in three]  # 11 blocks in batches of 3: the last holds 2, one rank gets none
    assert last[2] == [WEIGHTLESS] and sorted(last[0] + last[1]) == sorted(list(ShardedBatches(11, 3, seed=3))[-1])
    dataset = BlockDataset(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long))
    assert (dataset[WEIGHTLESS]["labels"] == -100).all()


def _weights(cache: Path, stage: str) -> dict[str, torch.Tensor]:
    (folder,) = [f for f in (cache / stage).iterdir() if not f.name.startswith(".")]
    return load_file(folder / "model.safetensors")


def _relative_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).norm() / b[k].norm()) for k in b)


def _run(cache: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    done = unlearn_cli(*TINY, f"paths.cache_dir={cache}", f"paths.output_root={tmp_path / 'out'}", *args, cwd=Path.cwd())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _assert_plain_folder(folder: Path) -> None:
    """What a sharded fine-tune saves loads as any Hugging Face model: its own class, every
    weight under the name the model gives it, nothing of the sharding's wrappers."""
    from transformers import AutoModelForCausalLM

    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    names = set(load_file(folder / "model.safetensors"))
    assert not [name for name in names if "fsdp" in name.lower() or "checkpoint" in name or name.startswith("_")], sorted(names)
    model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True)
    assert type(model) is LlamaForCausalLM
    assert not any(info[kind] for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")), info


# DDP's case is slow (47 s): the default suite keeps FSDP's, which runs the same launcher,
# distributed labels and gathering, and adds sharding.
@pytest.mark.parametrize("trainer", [pytest.param("ddp_cpu", marks=pytest.mark.slow), "fsdp_cpu"])
def test_two_processes_match_one_process(trainer, tiny_run, tmp_path):
    cfg, _ = tiny_run
    single = Path(cfg.paths.cache_dir)
    cache = copy_cache(tiny_run, tmp_path, ["target", "baseline"])
    _run(cache, tmp_path, f"trainer={trainer}", "stages=[reinforce]")
    reinforced = _relative_difference(_weights(cache, "reinforce"), _weights(single, "reinforce"))
    print(f"reinforced weights, {trainer} vs one process: relative difference {reinforced:.2e}")
    assert reinforced < 1e-4, f"{trainer}'s reinforced weights differ from one process's by {reinforced:.1e} (relative)"

    shutil.rmtree(cache / "reinforce")
    shutil.copytree(single / "reinforce", cache / "reinforce")
    done = _run(cache, tmp_path, f"trainer={trainer}", "stages=[labels,unlearn]")
    (labels_folder,) = [f for f in (cache / "labels").iterdir() if (f / "labels.safetensors").is_file()]
    ours = load_file(labels_folder / "labels.safetensors")["labels"]
    theirs = load_file(single / "labels" / labels_folder.name / "labels.safetensors")["labels"]
    assert torch.equal(ours, theirs), "labels from 2 processes must equal one process's exactly"
    unlearned = _relative_difference(_weights(cache, "unlearn"), _weights(single, "unlearn"))
    print(f"unlearned weights, {trainer} vs one process: relative difference {unlearned:.2e}")
    assert unlearned < 1e-4, f"{trainer}'s unlearned weights differ from one process's by {unlearned:.1e} (relative)"
    (unlearned_folder,) = [f for f in (cache / "unlearn").iterdir() if not f.name.startswith(".")]
    _assert_plain_folder(unlearned_folder)
    assert list((tmp_path / "out" / "runs").glob("*/unlearn_rank1.log")), "rank 1 logs to its own file"
    assert "baseline" in done.stdout and done.stdout.count("run folder:") == 1, "only rank 0 reports"


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["ddp_cpu", "fsdp_cpu"])
def test_two_processes_leave_the_embeddings_as_the_baseline_has_them(trainer, tiny_run, tmp_path):
    """unlearn.train_embeddings=false under DDP and FSDP2 (whose shards hold frozen and trained
    weights side by side): the embeddings and output layer come back exactly as the baseline's,
    and the rest as one process trains it."""
    frozen = ["unlearn.train_embeddings=false", "unlearn.lr=3e-3", "stages=[unlearn]"]
    before = ["target", "baseline", "reinforce", "dictionary", "labels"]
    single = copy_cache(tiny_run, tmp_path / "one", before)
    _run(single, tmp_path / "one", "trainer=cpu", *frozen)
    cache = copy_cache(tiny_run, tmp_path / "two", before)
    _run(cache, tmp_path / "two", f"trainer={trainer}", *frozen)

    baseline, ours, theirs = _weights(cache, "baseline"), _weights(cache, "unlearn"), _weights(single, "unlearn")
    embeddings = [name for name in ours if "embed_tokens" in name or name.startswith("lm_head")]
    assert embeddings, sorted(ours)
    for name in embeddings:
        assert torch.equal(ours[name], baseline[name]), f"{trainer} moved {name}"
    assert all(not torch.equal(ours[name], baseline[name]) for name in ours if name.endswith("proj.weight"))
    difference = _relative_difference(ours, theirs)
    assert difference < 1e-4, f"{trainer}'s unlearned weights differ from one process's by {difference:.1e} (relative)"


@pytest.mark.slow
def test_sharded_fine_tune_in_bf16_learns(tiny_run, tmp_path):
    """FSDP2's mixed precision as on GPUs (bf16 compute, fp32 reduction and master weights)."""
    cache = copy_cache(tiny_run, tmp_path, ["target", "baseline"])
    _run(cache, tmp_path, "trainer=fsdp_cpu", "trainer.strategy.param_dtype=bfloat16", "stages=[reinforce]")
    (folder,) = [f for f in (cache / "reinforce").iterdir() if not f.name.startswith(".")]
    losses = torch.tensor(json.loads((folder / "losses.json").read_text()))
    quarter = len(losses) // 4
    assert torch.isfinite(losses).all() and quarter >= 2
    assert losses[-quarter:].mean() < 0.9 * losses[:quarter].mean(), f"the loss did not fall: {losses.tolist()}"
    assert all(tensor.dtype == torch.float32 for tensor in load_file(folder / "model.safetensors").values()), "fp32 master weights"


@pytest.mark.parametrize("trainer", ["cpu", pytest.param("fsdp_cpu", marks=pytest.mark.slow)])
def test_interrupted_fine_tune_resumes_from_its_checkpoint(trainer, tiny_run, tmp_path):
    """Killed (every process of the run) after its first checkpoint, the fine-tune resumes from
    it and ends where an uninterrupted run ends; with FSDP2 the checkpoint is sharded."""
    cfg, _ = tiny_run
    stages = ["target", "baseline", "reinforce", "labels"]
    cache = copy_cache(tiny_run, tmp_path, stages)
    settings = ["stages=[unlearn]", "trainer.checkpoint_every_n_epochs=1", f"trainer={trainer}"]
    args = [*TINY, f"paths.cache_dir={cache}", f"paths.output_root={tmp_path / 'out'}", *settings]
    interrupted = subprocess.Popen(
        [sys.executable, "-m", "unlearn", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + HANG_GUARD_S
    while not list((cache / "unlearn").glob(".progress-*/latest")):
        assert interrupted.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(interrupted.pid, signal.SIGKILL)
    interrupted.wait()
    (checkpoint,) = [p for p in (cache / "unlearn").glob(".progress-*/epoch-*") if p.name != "latest"]
    if trainer == "fsdp_cpu":
        assert checkpoint.is_dir() and len(list(checkpoint.glob("*.distcp"))) == 2, "one shard per process"
    assert not [f for f in (cache / "unlearn").iterdir() if not f.name.startswith(".")], "killed before the model was saved"
    assert list((cache / "unlearn").glob(".building-*")), "the kill left the half-built folder behind"

    done = _run(cache, tmp_path, *settings)
    assert "unlearn: resuming from" in done.stdout + done.stderr
    if trainer == "cpu":
        reference = Path(cfg.paths.cache_dir)
    else:
        reference = copy_cache(tiny_run, tmp_path / "uninterrupted", stages)
        _run(reference, tmp_path, *settings)
    resumed, uninterrupted = _weights(cache, "unlearn"), _weights(reference, "unlearn")
    assert all(torch.allclose(resumed[k], uninterrupted[k], atol=1e-6) for k in uninterrupted)
    assert not list((cache / "unlearn").glob(".progress-*")), "checkpoints are removed once the model is saved"
    assert not list(cache.glob("*/.building-*")), "the dead run's half-built folder is reclaimed"


def test_slurm_launcher_asks_for_a_task_per_gpu_on_every_node():
    from hydra import compose, initialize_config_dir

    from unlearn.config import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm", "trainer=a100x4", "trainer.num_nodes=2"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)


class _Recorded(torch.utils.data.Dataset):
    def __init__(self, size: int):
        self.size, self.seen = size, []

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> torch.Tensor:
        self.seen.append(int(index))
        return torch.ones(1)


class _Fits(__import__("pytorch_lightning").LightningModule):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        return (self.weight * batch).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_one_process_trains_on_the_batches_a_shuffled_dataloader_gives():
    """So that the toy world's recorded results, trained with DataLoader(shuffle=True), still hold."""
    import pytorch_lightning as pl

    def orders(loader_for) -> list[int]:
        dataset = _Recorded(37)
        trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, use_distributed_sampler=False)  # fmt: skip
        trainer.fit(_Fits(), loader_for(dataset))
        return dataset.seen

    shuffled = orders(lambda d: torch.utils.data.DataLoader(d, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(5)))
    ours = orders(lambda d: torch.utils.data.DataLoader(d, batch_sampler=ShardedBatches(len(d), 8, seed=5)))
    assert ours == shuffled and len(ours) == 3 * 37


@pytest.mark.slow
def test_each_multirun_job_starts_its_own_ranks(tiny_run, tmp_path):
    cache = copy_cache(tiny_run, tmp_path, ["target", "baseline", "reinforce", "labels"])
    args = [*TINY, f"paths.cache_dir={cache}", f"hydra.sweep.dir={tmp_path / 'sweep'}", "trainer=ddp_cpu", "stages=[labels]"]
    done = unlearn_cli("-m", *args, "labels.alpha=4,5", cwd=Path.cwd())
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads((tmp_path / "sweep" / job / "report.json").read_text()) for job in ("0", "1")]
    assert reports[0]["cache"]["labels"]["hit"] is False and reports[0]["cache"]["labels.candidates"]["hit"] is True, (
        "alpha 4 from the stored candidates"
    )
    assert reports[1]["cache"]["labels"]["hit"] is True and "labels.candidates" not in reports[1]["cache"], "alpha 5 copied whole"
    assert sorted(p.parent.name for p in (tmp_path / "sweep").glob("*/unlearn_rank1.log")) == ["0", "1"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_a_gpu_trainer_without_a_gpu_says_what_to_use(tmp_path):
    from unlearn.distributed import world_size

    done = unlearn_cli("trainer=gpu", f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}", cwd=Path.cwd())
    assert done.returncode == 2
    assert "trainer.accelerator=gpu but no GPU is visible here; use trainer=cpu" in done.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir()), "nothing built"
    for option in ("ddp", "fsdp", "a100x4"):
        with pytest.raises(UserError, match="no GPU is visible here"):
            world_size(compose_config([f"trainer={option}"], tmp_path).trainer)
