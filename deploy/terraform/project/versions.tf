# Once per project, before any stage: the APIs, the worker images' repository and the Bigtable
# instance every stage's table lives in. Google's provider only.
terraform {
  required_version = ">= 1.9"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 9.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
  default_labels = {
    service = "etlservice"
  }
}
