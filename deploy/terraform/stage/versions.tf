# Google's provider only: every other provider would need its own offline build where the
# registry cannot be reached (see docs/deployment/terraform.md), so the function source zip is
# made by `nox -s bundle`, not by an `archive` data source.
terraform {
  required_version = ">= 1.9" # validations that refer to other variables
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
    stage   = var.stage
  }
}
