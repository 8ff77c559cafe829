"""The Lightning strategy FSDP2 trains through (settings: unlearn/training/sharding.py)."""

from __future__ import annotations

from pytorch_lightning.strategies import ModelParallelStrategy

from unlearn.training.sharding import ShardingPlan


class FullyShardedStrategy(ModelParallelStrategy):
    """Lightning's ModelParallelStrategy as FSDP2 alone: every process in one data-parallel
    dimension (no tensor parallelism), the model sharded by `plan` when the fine-tune sets it
    up (CausalLMModule.configure_model). Checkpoints to resume from are distributed (each
    process writes its own shard), so a 7B run never gathers its optimizer state on one rank."""

    def __init__(self, plan: ShardingPlan):
        super().__init__(save_distributed_checkpoint=True)
        self.plan = plan

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes
        self._tensor_parallel_size = 1
        super().setup_environment()
