output "image_repository" {
  description = "Where to push the worker's image: <this>/worker:<tag>."
  value       = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
}

output "bigtable_instance" {
  description = "The instance every stage's table is in."
  value       = google_bigtable_instance.shared.name
}
