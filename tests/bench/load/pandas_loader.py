"""The original's stack, for comparison: pandas (+ openpyxl for .xlsx) + psycopg2, doing the same
header mapping, validation, grouping (first appearance, repeated products summed) and insert into
the same tables in one transaction (execute_values). Usage: pandas_loader.py CONNINFO FILE"""
import re
import sys

import pandas as pd
import psycopg2
import psycopg2.extras

ALIASES = {
    "consultora_code": {"consultoracode", "codigoconsultora", "consultora"},
    "consultora_name": {"consultoraname", "nombreconsultora", "nombre"},
    "product_code": {"productcode", "codigoproducto", "producto", "sku"},
    "quantity": {"quantity", "cantidad", "qty"},
}
CODE = re.compile(r"^[0-9A-Za-z-]{1,20}$")


def norm(h):
    return re.sub(r"[^a-z0-9]", "", str(h).lower())


def main():
    conninfo, path = sys.argv[1], sys.argv[2]
    if path.endswith(".xlsx"):
        df = pd.read_excel(path, dtype=str, engine="openpyxl")
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = {}
    for c in df.columns:
        for canon, names in ALIASES.items():
            if norm(c) in names:
                cols[canon] = c
    df = df.rename(columns={v: k for k, v in cols.items()}).fillna("")
    for c in ("consultora_code", "product_code", "quantity"):
        df[c] = df[c].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    errors = []
    bad_code = ~df["consultora_code"].str.match(CODE)
    bad_prod = ~df["product_code"].str.match(CODE)
    qty = pd.to_numeric(df["quantity"], errors="coerce")
    bad_qty = qty.isna() | (qty < 1) | (qty > 999) | (qty != qty.round())
    for i in df.index[bad_code | bad_prod | bad_qty]:
        errors.append(f"{path}:{i + 2}: invalid row")
    if errors:
        print("\n".join(errors[:100]), file=sys.stderr)
        sys.exit(2)
    df["quantity"] = qty.astype(int)
    df["line"] = df.index + 2
    first = df.drop_duplicates("consultora_code")[["consultora_code", "consultora_name"]].reset_index(drop=True)
    items = (df.groupby(["consultora_code", "product_code"], sort=False)
               .agg(quantity=("quantity", "sum"), lines=("line", list)).reset_index())
    conn = psycopg2.connect(conninfo)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO batches (name, source_file) VALUES (%s, %s) RETURNING id", (path, path))
        batch = cur.fetchone()[0]
        rows = psycopg2.extras.execute_values(
            cur, "INSERT INTO orders (batch_id, seq, consultora_code, consultora_name) VALUES %s RETURNING id, consultora_code",
            [(batch, i + 1, r.consultora_code, r.consultora_name) for i, r in enumerate(first.itertuples())],
            page_size=10000, fetch=True)
        ids = {code: oid for oid, code in rows}
        psycopg2.extras.execute_values(
            cur, "INSERT INTO order_items (order_id, product_code, quantity, source_lines) VALUES %s",
            [(ids[r.consultora_code], r.product_code, int(r.quantity), list(r.lines)) for r in items.itertuples()],
            page_size=10000)
    print(len(df), len(first), len(items), batch)


if __name__ == "__main__":
    main()
