"""Alembic environment: the hub passes its connection in (`hub.db.Database.migrate`).

After changing hub/models.py, write the migration against a scratch store migrated to head:

    db = Database(HubSettings(database_url="sqlite:////tmp/scratch.db")); db.migrate()
    with db.engine.begin() as connection:
        config = Config(); config.set_main_option("script_location", "hub/migrations")
        config.attributes["connection"] = connection
        command.revision(config, message="...", autogenerate=True, rev_id="0002")

`tests/test_hub_store.py` fails while the migrations and the models differ.
"""

from __future__ import annotations

from alembic import context

from hub.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the hub's migrations run through hub.db.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
