locals {
  apis = toset([
    "artifactregistry.googleapis.com",
    "bigtable.googleapis.com",
    "bigtableadmin.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "apis" {
  for_each = local.apis
  service  = each.key
  # Other workloads of the project may use them too.
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  repository_id = "etl"
  location      = var.region
  format        = "DOCKER"
  description   = "The etl worker's images (deploy/worker/Dockerfile)."
  depends_on    = [google_project_service.apis]
}

# Shared by every stage: each stage's Terraform adds its table. Holds prod's data, so it is
# always protected.
resource "google_bigtable_instance" "shared" {
  name                = var.bigtable_instance
  deletion_protection = true

  cluster {
    cluster_id   = "${var.bigtable_instance}-c1"
    zone         = var.bigtable_zone
    num_nodes    = var.bigtable_nodes
    storage_type = "SSD"
  }

  depends_on = [google_project_service.apis]
}
