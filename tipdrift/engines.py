"""Where Splink runs person resolution: embedded DuckDB (default) or Spark.

DuckDB needs nothing started and is the right choice on one machine (benchmarks/README.md
gives the figures); it gets a memory limit and a temporary folder to spill into. Spark runs
the same model on a cluster: `pip install 'tipdrift[spark]'` (pyspark) and Java 17 or
newer; `--spark-master` says where. A SparkSession already running in the process is used
as it is (Splink's jar on its `spark.jars`, as Splink's docs say; intermediate tables kept
in memory) and never stopped here. A session started here gets Splink's similarity
functions (a jar shipped with Splink) and, in local mode, a private checkpoint folder; it
is stopped, its folder removed, when the run ends.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import polars as pl

BACKENDS = ("duckdb", "spark")
DUCKDB_MEMORY_GB = 4.0  # DuckDB spills to a temporary folder beyond this (its default is 80% of the machine)


@dataclass
class Engine:
    """A Splink database API and how to read its tables back as polars frames."""

    name: str
    db: Any
    _cleanup: list[str] = field(default_factory=list)
    _session: Any = None  # a SparkSession or DuckDB connection this engine opened (closed on close)

    def register(self, df: pl.DataFrame, name: str) -> Any:
        if self.name == "spark":
            return self.db.register(self.db.spark.createDataFrame(df.to_arrow()), table_name=name)
        return self.db.register(df.to_arrow(), table_name=name)

    def frame(self, splink_df: Any, columns: list[str] | None = None) -> pl.DataFrame:
        """A Splink table as a polars frame (only `columns`, when given)."""
        if self.name == "spark":
            sdf = splink_df.as_spark_dataframe()
            return pl.from_arrow(sdf.select(*columns).toArrow() if columns else sdf.toArrow())
        rel = splink_df.as_duckdbpyrelation()
        return pl.from_arrow((rel.select(*columns) if columns else rel).arrow())

    def close(self) -> None:
        if self._session is not None:
            (self._session.stop if self.name == "spark" else self._session.close)()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)


def _spark(master: str) -> tuple[Any, str | None]:
    """A SparkSession: the one already running in this process (used as it is, never
    stopped here), or a new one at `master` with Splink's jar and a temporary folder
    (returned, to remove)."""
    from tipdrift.errors import ParameterError

    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        raise ParameterError("--backend spark needs pyspark: pip install 'tipdrift[spark]' (and Java 17 or newer); "
                             "or leave the default, --backend duckdb") from None
    if SparkContext._active_spark_context is not None:  # a user's session (its jars and settings are theirs)
        return SparkSession.builder.getOrCreate(), None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ParameterError("--backend spark needs Java 17 or newer (Debian: apt-get install default-jre-headless)")
    tmp = tempfile.mkdtemp(prefix="tipdrift-spark-")
    try:
        spark = (SparkSession.builder.master(master).appName("tipdrift")
                 .config("spark.jars", similarity_jar_location())
                 .config("spark.sql.shuffle.partitions", "8").config("spark.default.parallelism", "8")
                 .config("spark.sql.warehouse.dir", tmp + "/warehouse").config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.driver.memory", "4g").getOrCreate())
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(tmp + "/checkpoints")
    return spark, tmp


def _duckdb_memory() -> str:
    """DUCKDB_MEMORY, or 80% of the machine's memory when that is less."""
    import psutil

    return f"{min(DUCKDB_MEMORY_GB, 0.8 * psutil.virtual_memory().total / 1e9):.1f}GB"


def open_engine(backend: str = "duckdb", spark_master: str = "local[*]") -> Engine:
    """The engine named `backend` (see module docstring)."""
    from tipdrift.errors import ParameterError

    if backend == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        tmp = tempfile.mkdtemp(prefix="tipdrift-duckdb-")
        con = duckdb.connect(config={"memory_limit": _duckdb_memory(), "temp_directory": tmp})
        return Engine("duckdb", DuckDBAPI(connection=con), [tmp], con)
    if backend == "spark":
        from splink.backends.spark import SparkAPI

        spark, tmp = _spark(spark_master)
        # Intermediate tables: Parquet in our local folder for a session we started in local
        # mode; kept in the cluster's memory otherwise (a local folder is not the workers', and
        # a user's session may have no checkpoint folder)
        local = tmp is not None and spark_master.startswith("local")
        api = SparkAPI(spark_session=spark, break_lineage_method="parquet" if local else "persist")
        return Engine("spark", api, [tmp] if tmp else [], spark if tmp else None)
    raise ParameterError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
