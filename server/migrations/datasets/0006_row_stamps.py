"""A stamp on every dataset row that changes with each write to it, set by triggers (never by the ORM).

List pages key the views they keep by (id, stamp): after a write, a page reads only the ids and stamps of
its rows and loads in full just the rows whose stamp it has not seen (server.models.rows.built_page).

The column is not a field of the model, so no ORM write (a `save()` of a stale object included) can put an
old stamp back. PostgreSQL stamps each inserted or updated row from a sequence before it is written. SQLite
cannot change the row in a BEFORE trigger: after each insert or update it takes the next value of a counter
(`row_stamps`) and writes it to the row; that write, which changes the stamp to the counter's current value,
does not stamp again.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.migrations.by_dialect import run_sql

_STAMP = """BEGIN
        INSERT INTO row_stamps (name, value) VALUES ('datasets', 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1;
        UPDATE datasets SET row_stamp = (SELECT value FROM row_stamps WHERE name = 'datasets')
        WHERE rowid = NEW.rowid;
    END"""

# The page's keys and stamps in list order from the index alone: without the stamp in it, each of a page's
# rows is one more lookup in the table (on SQLite, after another connection's write, a page read again).
_COVERING = ("CREATE INDEX IF NOT EXISTS datasets_ws_created_stamp "
             "ON datasets (workspace_id, created_at, id, row_stamp)")

_SQLITE = [
    "ALTER TABLE datasets ADD COLUMN row_stamp BIGINT NOT NULL DEFAULT 0",
    "CREATE TABLE IF NOT EXISTS row_stamps (name VARCHAR(40) NOT NULL PRIMARY KEY, value BIGINT NOT NULL)",
    f"CREATE TRIGGER IF NOT EXISTS datasets_row_stamp_insert AFTER INSERT ON datasets {_STAMP}",
    # Its own write changes the stamp to the counter's current value, which does not stamp again (recursive
    # triggers or not); any other update does, one that writes an old stamp by hand included.
    f"""CREATE TRIGGER IF NOT EXISTS datasets_row_stamp_update AFTER UPDATE ON datasets
    WHEN NEW.row_stamp IS OLD.row_stamp
        OR NEW.row_stamp IS NOT (SELECT value FROM row_stamps WHERE name = 'datasets') {_STAMP}""",
    _COVERING,
]

_POSTGRES = [
    "ALTER TABLE datasets ADD COLUMN IF NOT EXISTS row_stamp BIGINT NOT NULL DEFAULT 0",
    "CREATE SEQUENCE IF NOT EXISTS datasets_row_stamp",
    """CREATE OR REPLACE FUNCTION docc_stamp_dataset_row() RETURNS trigger AS $$
    BEGIN
        NEW.row_stamp := nextval('datasets_row_stamp');
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS datasets_row_stamp ON datasets",
    """CREATE TRIGGER datasets_row_stamp BEFORE INSERT OR UPDATE ON datasets
    FOR EACH ROW EXECUTE FUNCTION docc_stamp_dataset_row()""",
    _COVERING,
]


class Migration(migrations.Migration):
    dependencies = [("datasets", "0005_read_generations")]

    initial = False

    operations = [ops.RunPython(run_sql(_SQLITE, _POSTGRES), reverse_code=ops.RunPython.noop)]
