"""The one Settings object: built at an entry point from flags and environment, passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.data_settings import DataSettings
from core.experiments import Experiment, RerankOverrides, check_experiments
from core.filesystem import StorageOptions, StoragePath, open_storage
from core.milvus_settings import MilvusSettings
from core.online_settings import OnlineSettings
from core.rank_settings import RankServingSettings, RankSettings
from core.recall_model_settings import (
    DeepWalkSettings,
    Item2VecSettings,
    ItemBagSettings,
    TwoTowerSettings,
)
from core.site_settings import SiteSettings
from core.stream_settings import StreamSettings
from core.train_settings import TrainSettings


class RecallSettings(BaseModel):
    """Candidate generation quotas per route; the merge interleaves routes in proportion to
    them. The embedding and popular quotas were chosen with the item bag on ml-latest-small's
    per-user validation carve (bench/results/quality.txt): Rank orders the pool by the bag's
    affinity, so its width is what reaches the list."""

    embedding_quota: int = Field(300, ge=0, description="candidates from the embedding route")
    memory_search: bool = Field(
        True,
        description="search an exact Milvus Lite index's vectors in the replica's memory instead "
        "of through Milvus Lite: the same hits for a fifth of Recall's CPU (Lite's search alone "
        "holds 2 cores below 50 requests/s); a Milvus server is always searched",
    )
    popular_quota: int = Field(50, ge=0, description="candidates from the popularity route")
    trending_quota: int = Field(
        20,
        ge=0,
        description="candidates from the live trending route: the items posted events counted "
        "most in the last hour",
    )
    item_cf_quota: int = Field(
        300,
        ge=0,
        description="candidates from the recall model's item-CF weights (item_bag versions "
        "trained with them), scored over the user's whole recency-weighted history",
    )
    recent_items: int = Field(10, ge=1, description="recent positives that form the user vector")
    item_to_item_quota: int = Field(
        25, ge=0, description="candidates from the neighbours of the user's last positives"
    )
    item_to_item_seeds: int = Field(
        5, ge=1, description="last positive items whose neighbours the item-to-item route takes"
    )
    genre_quota: int = Field(
        50, ge=0, description="candidates from the popular items of the user's top genres"
    )
    new_item_quota: int = Field(
        10,
        ge=0,
        description="candidates from the items put online (PUT /items) that the last features "
        "build has not seen, newest first, of the user's top genres: no other route knows them",
    )
    max_candidates: int = Field(
        300,
        ge=0,
        description="candidates handed to ranking: the merged routes' best by affinity (the "
        "embedding model's score); 0 hands every merged candidate on; at least max_k",
    )
    max_excluded: int = Field(
        1000,
        ge=0,
        description="seen items left out inside vector searches; a user's further seen items "
        "are over-asked for and dropped after the search",
    )


class RerankSettings(BaseModel):
    """Final list policies; each one is off at its neutral value."""

    max_per_genre: int = Field(
        0, ge=0, description="at most this many items per first genre; 0 switches it off"
    )
    mmr_lambda: float = Field(
        0.95, ge=0, le=1, description="MMR relevance weight against genre overlap; 1 is off"
    )
    freshness_weight: float = Field(
        0.05, ge=0, description="score bonus for a brand-new release, halving per half-life"
    )
    freshness_half_life_years: float = Field(5.0, gt=0)
    trending_weight: float = Field(
        0.5, ge=0, description="score bonus for the most-watched item of late, linear in it"
    )
    popularity_debias: float = Field(
        0.0, ge=0, description="score penalty for the most popular item, scaled by log count"
    )
    new_item_slots: int = Field(
        1, ge=0, description="places reserved for items no features build has seen; 0 is off"
    )
    new_item_position: int = Field(2, ge=0, description="0-based place of the first of them")
    exclude_items: list[int] = Field(
        default_factory=list, description="items never recommended (business rule)"
    )
    pinned_items: dict[int, int] = Field(
        default_factory=dict, description="item id -> 0-based position it is pinned to"
    )

    def with_overrides(self, overrides: RerankOverrides | None) -> RerankSettings:
        """These settings with an A/B variant's changes applied."""
        if overrides is None:
            return self
        return RerankSettings.model_validate(
            {**self.model_dump(), **overrides.model_dump(exclude_none=True)}
        )


class KubeRaySettings(BaseModel):
    """The RayService the app runs as on KubeRay, if any. There the operator owns the Serve
    config and reverts changes made to Serve directly, so operators' changes patch it."""

    rayservice: str | None = Field(
        None, description="name of the RayService resource; unset off KubeRay"
    )
    namespace: str | None = Field(None, description="its namespace; the pod's own when unset")
    api_server: str = Field(
        "https://kubernetes.default.svc", description="Kubernetes API, as seen from a pod"
    )
    service_account_dir: Path = Field(
        Path("/var/run/secrets/kubernetes.io/serviceaccount"),
        description="the pod's service account token, CA certificate and namespace",
    )


class Settings(BaseSettings):
    """Every setting of Starling. Environment keys are documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix="STARLING_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    home: Path = Field(Path(".starling"), description="lake, features, registry, local services")
    storage_uri: str | None = Field(
        None,
        description="shared root of the lake, features, samples, stats and registry: a folder "
        "(NFS) or a URI (s3://bucket/prefix, gs://, hdfs://); `home` when unset",
    )
    storage_endpoint: str | None = Field(
        None, description="endpoint of an S3-compatible store (http://minio:9000)"
    )
    storage_region: str | None = Field(None, description="region of the S3 bucket")
    storage_access_key: SecretStr | None = Field(
        None, description="S3 key id; the AWS SDK's own chain (AWS_* variables, role) when unset"
    )
    storage_secret_key: SecretStr | None = None
    ray_address: str | None = Field(
        None,
        validation_alias=AliasChoices("RAY_ADDRESS", "STARLING_RAY_ADDRESS"),
        description="existing Ray cluster; a local Ray starts when unset",
    )
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "STARLING_REDIS_URL"),
        description="Redis for online features; an embedded redis-server starts when unset",
    )
    milvus_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MILVUS_URI", "STARLING_MILVUS_URI"),
        description="Milvus server; each Recall replica opens a Milvus Lite copy when unset",
    )
    redis_port: int = Field(6390, ge=1, le=65535, description="port of the embedded Redis")
    redis_serving_timeout_s: float = Field(
        0.25,
        gt=0,
        description="how long a replica's Redis call may wait to connect or for an answer; a "
        "call that waits it out marks Redis down, and requests then skip it until it answers",
    )
    redis_probe_interval_s: float = Field(
        1.0, gt=0, description="seconds between a replica's pings of a Redis it found down"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the local Ray; all when unset")
    # Off by default: its agent's stats rounds stalled requests in flight
    # (docs/serving-performance.md).
    ray_dashboard: bool = Field(False, description="Ray dashboard on 127.0.0.1, with Ray's token")
    ray_dashboard_port: int = Field(8265, ge=1, le=65535, description="its port, or the next free")
    gcs_start_timeout_s: int = Field(
        120, ge=1, description="how long a local Ray's GCS may take to start"
    )
    serve_fast_ingress: bool = Field(
        True,
        description="a local Ray's Serve takes HTTP through HAProxy straight to the Gateway "
        "replicas (Serve's throughput-optimized mode): half the CPU per request of its proxy",
    )
    ray_worker_niceness: int = Field(
        0, ge=0, le=19, description="niceness of a local Ray's workers, replicas included (Ray: 15)"
    )
    # The fast ingress's HAProxy stats page and metrics have no authentication.
    ingress_admin_host: str = Field(
        "127.0.0.1",
        pattern=r"^[A-Za-z0-9.:-]+$",
        description="where HAProxy's stats page and Prometheus metrics listen (fast ingress)",
    )
    ingress_stats_port: int = Field(8404, ge=1, le=65535, description="HAProxy's stats page")
    ingress_metrics_port: int = Field(9101, ge=1, le=65535, description="HAProxy's metrics")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    max_k: int = Field(100, ge=1, description="largest k a /recommend request may ask for")
    stage_timeout_s: float = Field(
        2.0, gt=0, description="a stage slower than this degrades to the previous stage's order"
    )
    serve_config: Path | None = Field(
        None,
        description="serve config that deploys read and `starling scale`/`models promote` "
        "update; unset: <home>/serve_config.yaml, copied from the packaged one at a first change",
    )
    write_api_keys: list[SecretStr] = Field(
        default_factory=list, description="Bearer keys allowed to call write routes (POST /events)"
    )
    admin_api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer keys allowed to call admin routes and write routes, and force variants",
    )
    public_user_data: bool = Field(
        False,
        description="demo mode: anyone may read any user's history (GET /users/{id}); off, "
        "that needs a write or admin key",
    )
    experiments: list[Experiment] = Field(
        default_factory=list, description="A/B experiments running side by side"
    )

    train: TrainSettings = Field(default_factory=TrainSettings)
    item2vec: Item2VecSettings = Field(default_factory=Item2VecSettings)
    recall_model: str = Field("item_bag", description="recall model that `starling up` trains")
    deepwalk: DeepWalkSettings = Field(default_factory=DeepWalkSettings)
    two_tower: TwoTowerSettings = Field(default_factory=TwoTowerSettings)
    item_bag: ItemBagSettings = Field(default_factory=ItemBagSettings)
    rank: RankSettings = Field(default_factory=RankSettings)
    rank_serving: RankServingSettings = Field(default_factory=RankServingSettings)
    recall: RecallSettings = Field(default_factory=RecallSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    site: SiteSettings = Field(default_factory=SiteSettings)
    online: OnlineSettings = Field(default_factory=OnlineSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    kuberay: KubeRaySettings = Field(default_factory=KubeRaySettings)

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        # Replicas and Ray workers run in other working directories.
        return home.expanduser().resolve()

    @model_validator(mode="after")
    def _experiments_do_not_collide(self) -> Settings:
        check_experiments(self.experiments)
        return self

    @model_validator(mode="after")
    def _enough_candidates(self) -> Settings:
        if 0 < self.recall.max_candidates < self.max_k:
            raise ValueError(
                f"recall.max_candidates {self.recall.max_candidates} is below max_k {self.max_k}: "
                "a request for max_k items could not be answered in full"
            )
        return self

    def storage_root(self) -> StoragePath:
        """The shared storage root: a local folder as a Path, a URI as a RemotePath."""
        if self.storage_uri is None:
            return self.home
        options = StorageOptions(
            endpoint=self.storage_endpoint,
            region=self.storage_region,
            access_key=self.storage_access_key,
            secret_key=self.storage_secret_key,
        )
        return open_storage(self.storage_uri, options)

    def resolved_redis_url(self) -> str:
        """The Redis URL replicas connect to: the configured one or the embedded server's."""
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"
