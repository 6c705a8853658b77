"""The data layer: schema, migrations, importers and the synthetic generator."""
