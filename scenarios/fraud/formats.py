"""The fraud log in the layouts detectors are already written for: PaySim, AMLworld, SAML-D.

Each export reads the native log lazily (`abm.events.scan_events`) and streams the rows out
with polars (``sink_csv``), so memory stays bounded whatever the row count. Files are written
under a temporary name and renamed when complete.

* ``paysim`` -> ``paysim.csv``: PaySim's columns, names and order (Lopez-Rojas et al., 2016,
  the Kaggle dataset "Synthetic Financial Datasets For Fraud Detection"): ``step`` (hour,
  from 1), ``type`` (CASH_IN, CASH_OUT, DEBIT, PAYMENT, TRANSFER: bills are PAYMENTs, income is
  CASH_IN), ``amount``, ``nameOrig`` (the customer), ``oldbalanceOrg``, ``newbalanceOrig``,
  ``nameDest``, ``oldbalanceDest``, ``newbalanceDest``, ``isFraud``, ``isFlaggedFraud``. As in
  PaySim, for CASH_IN the customer is ``nameOrig`` and their balance rises; names are ``C``
  (customers, cash agents, outside accounts) or ``M`` (merchants) and a number; balances the
  model does not hold (merchants' excepted) are 0.
* ``amlworld`` -> ``amlworld.csv`` and ``amlworld_patterns.txt``: the columns of IBM's AMLworld
  transactions files (``Timestamp``, ``From Bank``, ``Account``, ``To Bank``, ``Account``,
  ``Amount Received``, ``Receiving Currency``, ``Amount Paid``, ``Payment Currency``, ``Payment
  Format``, ``Is Laundering``), and its patterns file: each named laundering case's layering
  rows between ``BEGIN LAUNDERING ATTEMPT - FAN-OUT`` and ``END LAUNDERING ATTEMPT - FAN-OUT``
  lines (``unnamed`` laundering is, as in AMLworld, labelled but in no pattern).
* ``samld`` -> ``samld.csv``: the columns of SAML-D (Oztas et al., 2023): ``Time``, ``Date``,
  ``Sender_account``, ``Receiver_account``, ``Amount``, ``Payment_currency``,
  ``Received_currency``, ``Sender_bank_location``, ``Receiver_bank_location``,
  ``Payment_type``, ``Is_laundering``, ``Laundering_type``. Its typology names are mapped from
  ours; legitimate rows get SAML-D's ``Normal_...`` names by transaction type (an approximation:
  SAML-D names normal behaviour by pattern).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl

from abm.events import scan_events
from populations.output import file_sha256

__all__ = ["EXPORTS", "PAYSIM_COLUMNS", "export"]

PAYSIM_COLUMNS = (
    "step",
    "type",
    "amount",
    "nameOrig",
    "oldbalanceOrg",
    "newbalanceOrig",
    "nameDest",
    "oldbalanceDest",
    "newbalanceDest",
    "isFraud",
    "isFlaggedFraud",
)
AMLWORLD_COLUMNS = (
    "Timestamp",
    "From Bank",
    "Account",
    "To Bank",
    "Account",
    "Amount Received",
    "Receiving Currency",
    "Amount Paid",
    "Payment Currency",
    "Payment Format",
    "Is Laundering",
)
SAMLD_COLUMNS = (
    "Time",
    "Date",
    "Sender_account",
    "Receiver_account",
    "Amount",
    "Payment_currency",
    "Received_currency",
    "Sender_bank_location",
    "Receiver_bank_location",
    "Payment_type",
    "Is_laundering",
    "Laundering_type",
)
_AMLWORLD_CURRENCY = {
    "USD": "US Dollar",
    "EUR": "Euro",
    "GBP": "UK Pound",
    "CHF": "Swiss Franc",
    "JPY": "Yen",
    "CNY": "Yuan",
    "INR": "Rupee",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
}
_AMLWORLD_FORMAT = {
    "card": "Credit Card",
    "online": "Credit Card",
    "mobile": "ACH",
    "ach": "ACH",
    "wire": "Wire",
    "cash": "Cash",
    "cheque": "Cheque",
}
_AMLWORLD_PATTERN = {
    "fan_out": "FAN-OUT",
    "fan_in": "FAN-IN",
    "cycle": "CYCLE",
    "scatter_gather": "SCATTER-GATHER",
    "gather_scatter": "GATHER-SCATTER",
    "bipartite": "BIPARTITE",
    "stack": "STACK",
    "random": "RANDOM",
}
_SAMLD_CURRENCY = {
    "USD": "US dollar",
    "EUR": "Euro",
    "GBP": "UK pounds",
    "CHF": "Swiss franc",
    "JPY": "Yen",
    "CNY": "Yuan",
    "INR": "Indian rupee",
    "CAD": "Canadian dollar",
    "AUD": "Australian dollar",
}
_SAMLD_LOCATION = {
    "USD": "USA",
    "EUR": "Germany",
    "GBP": "UK",
    "CHF": "Switzerland",
    "JPY": "Japan",
    "CNY": "China",
    "INR": "India",
    "CAD": "Canada",
    "AUD": "Australia",
}
_SAMLD_TYPOLOGY = {
    "fan_out": "Fan_Out",
    "fan_in": "Fan_In",
    "cycle": "Cycle",
    "scatter_gather": "Scatter-Gather",
    "gather_scatter": "Gather-Scatter",
    "bipartite": "Bipartite",
    "stack": "Stacked Bipartite",
    "random": "Layered_Fan_Out",
    "unnamed": "Behavioural_Change_1",
}
_SAMLD_NORMAL = {
    "PAYMENT": "Normal_Small_Fan_Out",
    "TRANSFER": "Normal_Foward",
    "CASH_IN": "Normal_Cash_Deposits",
    "CASH_OUT": "Normal_Cash_Withdrawal",
    "DEBIT": "Normal_single_large",
    "BILL": "Normal_Periodical",
    "SALARY": "Normal_Periodical",
}


def _name(prefix: pl.Expr, account: str) -> pl.Expr:
    return pl.concat_str([prefix, pl.col(account).cast(pl.String)])


def _paysim(lf: pl.LazyFrame) -> pl.LazyFrame:
    incoming = pl.col("type").cast(pl.String).is_in(["CASH_IN", "SALARY"])
    # In PaySim the customer is always nameOrig; for money coming in, the sides swap.
    cust, other = ("dest", "orig"), ("orig", "dest")

    def side(when_in: str, otherwise: str, column: str) -> pl.Expr:
        return (
            pl.when(incoming)
            .then(pl.col(f"{when_in}_{column}"))
            .otherwise(pl.col(f"{otherwise}_{column}"))
        )

    def prefix(kind: pl.Expr) -> pl.Expr:
        return pl.when(kind.cast(pl.String) == "merchant").then(pl.lit("M")).otherwise(pl.lit("C"))

    kind_orig = side(*cust, "kind")
    kind_dest = side(*other, "kind")
    return lf.select(
        (pl.col("hour") + 1).cast(pl.Int64).alias("step"),
        pl.col("type")
        .cast(pl.String)
        .replace({"BILL": "PAYMENT", "SALARY": "CASH_IN"})
        .alias("type"),
        pl.col("amount").round(2).alias("amount"),
        pl.concat_str([prefix(kind_orig), side(*cust, "account").cast(pl.String)]).alias(
            "nameOrig"
        ),
        side(*cust, "balance_before").fill_null(0.0).round(2).alias("oldbalanceOrg"),
        side(*cust, "balance_after").fill_null(0.0).round(2).alias("newbalanceOrig"),
        pl.concat_str([prefix(kind_dest), side(*other, "account").cast(pl.String)]).alias(
            "nameDest"
        ),
        side(*other, "balance_before").fill_null(0.0).round(2).alias("oldbalanceDest"),
        side(*other, "balance_after").fill_null(0.0).round(2).alias("newbalanceDest"),
        pl.col("is_fraud").cast(pl.Int64).alias("isFraud"),
        pl.col("is_flagged").cast(pl.Int64).alias("isFlaggedFraud"),
    )


def _bank_number(column: str) -> pl.Expr:
    """Banks as AMLworld numbers them (integers); outside any modelled bank: 0."""
    name = pl.col(column).cast(pl.String)
    number = name.str.slice(1).cast(pl.Int64, strict=False)
    return (
        pl.when(name == "external")
        .then(0)
        .when(name.str.starts_with("F"))
        .then(number + 900)
        .otherwise(number)
        .fill_null(0)
    )


def _amlworld(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.select(
        pl.col("timestamp").dt.strftime("%Y/%m/%d %H:%M").alias("Timestamp"),
        _bank_number("orig_bank").alias("From Bank"),
        _hex("orig_account").alias("Account"),
        _bank_number("dest_bank").alias("To Bank"),
        _hex("dest_account").alias("Account_1"),
        pl.col("amount_received").round(2).alias("Amount Received"),
        pl.col("currency_received")
        .cast(pl.String)
        .replace_strict(_AMLWORLD_CURRENCY)
        .alias("Receiving Currency"),
        pl.col("amount").round(2).alias("Amount Paid"),
        pl.col("currency")
        .cast(pl.String)
        .replace_strict(_AMLWORLD_CURRENCY)
        .alias("Payment Currency"),
        pl.col("channel").cast(pl.String).replace_strict(_AMLWORLD_FORMAT).alias("Payment Format"),
        pl.col("is_laundering").cast(pl.Int64).alias("Is Laundering"),
    )


def _hex(column: str) -> pl.Expr:
    """An account id as upper-case hexadecimal, as AMLworld writes accounts."""
    digits = "0123456789ABCDEF"
    value = pl.col(column)
    parts = []
    for shift in range(44, -1, -4):  # ids are below 2**48
        parts.append(pl.lit(digits).str.slice(((value // (1 << shift)) % 16).cast(pl.Int64), 1))
    return pl.concat_str(parts).str.strip_chars_start("0")


def _samld(lf: pl.LazyFrame) -> pl.LazyFrame:
    ttype = pl.col("type").cast(pl.String)
    channel = pl.col("channel").cast(pl.String)
    cross = pl.col("currency").cast(pl.String) != pl.col("currency_received").cast(pl.String)
    payment_type = (
        pl.when(ttype == "CASH_IN")
        .then(pl.lit("Cash Deposit"))
        .when(ttype == "CASH_OUT")
        .then(pl.lit("Cash Withdrawal"))
        .when(cross)
        .then(pl.lit("Cross-border"))
        .when(channel == "card")
        .then(pl.lit("Debit card"))
        .when(channel == "online")
        .then(pl.lit("Credit card"))
        .when(channel == "cheque")
        .then(pl.lit("Cheque"))
        .otherwise(pl.lit("ACH"))
    )
    typology = pl.col("typology").cast(pl.String)
    stage = pl.col("stage").cast(pl.String)
    laundering_type = (
        pl.when(pl.col("is_laundering") & (stage == "placement"))
        .then(pl.lit("Structuring"))
        .when(pl.col("is_laundering") & (stage == "integration") & (ttype == "CASH_OUT"))
        .then(pl.lit("Cash_Withdrawal"))
        .when(pl.col("is_laundering") & (stage == "integration"))
        .then(pl.lit("Deposit-Send"))
        .when(pl.col("is_laundering"))
        .then(typology.replace_strict(_SAMLD_TYPOLOGY, default="Behavioural_Change_1"))
        .otherwise(ttype.replace_strict(_SAMLD_NORMAL))
    )

    def location(currency: str, bank: str) -> pl.Expr:
        return pl.col(currency).cast(pl.String).replace_strict(_SAMLD_LOCATION).alias(bank)

    return lf.select(
        pl.col("timestamp").dt.strftime("%H:%M:%S").alias("Time"),
        pl.col("timestamp").dt.strftime("%Y-%m-%d").alias("Date"),
        pl.col("orig_account").alias("Sender_account"),
        pl.col("dest_account").alias("Receiver_account"),
        pl.col("amount").round(2).alias("Amount"),
        pl.col("currency")
        .cast(pl.String)
        .replace_strict(_SAMLD_CURRENCY)
        .alias("Payment_currency"),
        pl.col("currency_received")
        .cast(pl.String)
        .replace_strict(_SAMLD_CURRENCY)
        .alias("Received_currency"),
        location("currency", "Sender_bank_location"),
        location("currency_received", "Receiver_bank_location"),
        payment_type.alias("Payment_type"),
        pl.col("is_laundering").cast(pl.Int64).alias("Is_laundering"),
        laundering_type.alias("Laundering_type"),
    )


def _sink(lf: pl.LazyFrame, path: Path, header: tuple[str, ...]) -> int:
    """Stream `lf` to CSV at `path` (atomically) with `header` as its first line."""
    tmp = path.with_name(f".{path.name}.tmp")
    body = path.with_name(f".{path.name}.body")
    try:
        lf.sink_csv(body, include_header=False)
        with tmp.open("wb") as out:
            out.write((",".join(header) + "\n").encode())
            with body.open("rb") as src:
                while chunk := src.read(1 << 22):
                    out.write(chunk)
        os.replace(tmp, path)
    finally:
        for p in (tmp, body):
            p.unlink(missing_ok=True)
    return int(lf.select(pl.len()).collect().item())


def _patterns(lf: pl.LazyFrame, aml: pl.LazyFrame, path: Path) -> int:
    """AMLworld's patterns file: each named case's layering rows between BEGIN/END lines."""
    cases = (
        lf.with_row_index("row")
        .filter(
            pl.col("is_laundering")
            & (pl.col("stage").cast(pl.String) == "layering")
            & pl.col("typology").cast(pl.String).is_in(list(_AMLWORLD_PATTERN))
        )
        .select("row", "case_id", pl.col("typology").cast(pl.String))
        .collect()
    )
    rows = (
        aml.with_row_index("row")
        .join(cases.lazy(), on="row", how="inner")
        .sort(["case_id", "row"])
        .collect()
    )
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        for (_case, typology), group in rows.group_by(["case_id", "typology"], maintain_order=True):
            name = _AMLWORLD_PATTERN[typology]
            out.write(f"BEGIN LAUNDERING ATTEMPT - {name}\n")
            body = group.drop("row", "case_id", "typology").write_csv(include_header=False)
            out.write(body)
            out.write(f"END LAUNDERING ATTEMPT - {name}\n\n")
            count += 1
    os.replace(tmp, path)
    return count


def _record(run: Path, files: dict[str, int]) -> None:
    """Add the exported files (rows, sha256) to the run's manifest."""
    manifest_file = run / "manifest.json"
    if not manifest_file.is_file():
        manifest_file = run / "replicates.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    exports = manifest.setdefault("exports", {})
    for rel, rows in files.items():
        exports[rel] = {"rows": rows, "sha256": file_sha256(run / rel)}
    tmp = manifest_file.with_name(f".{manifest_file.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_file)


def export(run: str | Path, fmt: str) -> dict[str, int]:
    """Write the log in folder `run` in layout `fmt` (paysim, amlworld, samld) beside it.

    Returns the files written (relative to `run`) and their rows (cases, for a patterns file).
    """
    run = Path(run)
    lf = scan_events(run)
    if "shard" in lf.collect_schema().names():
        lf = lf.drop("shard")
    files: dict[str, int] = {}
    if fmt == "paysim":
        files["paysim.csv"] = _sink(_paysim(lf), run / "paysim.csv", PAYSIM_COLUMNS)
    elif fmt == "amlworld":
        aml = _amlworld(lf)
        files["amlworld.csv"] = _sink(aml, run / "amlworld.csv", AMLWORLD_COLUMNS)
        files["amlworld_patterns.txt"] = _patterns(lf, aml, run / "amlworld_patterns.txt")
    elif fmt == "samld":
        files["samld.csv"] = _sink(_samld(lf), run / "samld.csv", SAMLD_COLUMNS)
    else:
        msg = f"unknown export format {fmt!r}"
        raise ValueError(msg)
    _record(run, files)
    return files


EXPORTS: dict[str, Callable[[Path], dict[str, int]]] = {
    name: (lambda run, name=name: export(run, name)) for name in ("paysim", "amlworld", "samld")
}
"""Export formats of the fraud scenario (``synthworld run fraud --format NAME``)."""
