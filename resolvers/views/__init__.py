"""Read models: what leaves the domain, one module per domain.

Each view is a frozen dataclass built from ORM rows in one place (`from_row`), with secrets already masked
and derived figures already computed. Surfaces rename and select its fields; they never see a row.
"""
