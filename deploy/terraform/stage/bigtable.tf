# The stage's table in the shared instance (deploy/terraform/project), with the registry's
# column families and their GC rules.
resource "google_bigtable_table" "events" {
  name                = local.pipeline.bigtable.table
  instance_name       = local.pipeline.bigtable.instance
  deletion_protection = var.deletion_protection ? "PROTECTED" : "UNPROTECTED"

  dynamic "column_family" {
    for_each = local.pipeline.bigtable.families
    content {
      family = column_family.key
    }
  }
}

resource "google_bigtable_gc_policy" "families" {
  for_each      = local.pipeline.bigtable.families
  instance_name = google_bigtable_table.events.instance_name
  table         = google_bigtable_table.events.name
  column_family = each.key
  # A GC rule cannot be deleted from a replicated instance; dropping it leaves it in place.
  deletion_policy = "ABANDON"

  max_version {
    number = each.value.max_versions
  }
}
