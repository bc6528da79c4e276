package pubsubfidelity

import (
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Production applies an update mask all or nothing: a refused
// UpdateTopic or UpdateSubscription changes nothing. pstest applies the
// paths one by one and returns at the first it refuses, keeping the ones
// before it (the differential test found a refused update that had cleared
// the labels). checkUpdatePaths refuses an unknown path before pstest sees
// the request, and fallibleFirst moves the paths pstest may refuse for
// their value ahead of the others, so a refusal comes before any change.
// (Two such paths, the first valid and the second not, still leave the
// first applied.)

// Update-mask paths pstest knows, per resource (pstest v2.9.0 UpdateTopic
// and UpdateSubscription).
var (
	topicPaths = []string{
		"labels", "message_storage_policy", "message_retention_duration", "schema_settings",
		"schema_settings.schema", "schema_settings.encoding", "schema_settings.first_revision_id",
		"schema_settings.last_revision_id", "ingestion_data_source_settings", "message_transforms",
	}
	subscriptionPaths = []string{
		"push_config", "bigquery_config", "cloud_storage_config", "ack_deadline_seconds",
		"retain_acked_messages", "message_retention_duration", "labels", "expiration_policy",
		"dead_letter_policy", "retry_policy", "filter", "enable_exactly_once_delivery",
		"message_transforms",
	}
	// fallible are the paths pstest checks the value of.
	fallible = []string{
		"ack_deadline_seconds", "message_retention_duration", "dead_letter_policy", "filter",
		"bigquery_config",
	}
)

// checkUpdatePaths refuses, as production does, a mask naming a field the
// resource does not have (or cannot update), before anything is applied.
func checkUpdatePaths(resource string, paths, known []string) error {
	for _, p := range paths {
		if !slices.Contains(known, p) {
			return status.Errorf(codes.InvalidArgument, "Invalid update_mask provided in the Update%sRequest: %s is not a known %s field.", resource, p, resource)
		}
	}
	return nil
}

// fallibleFirst reorders paths in place: those pstest may refuse for their
// value first, the rest after, each group in its given order.
func fallibleFirst(paths []string) {
	slices.SortStableFunc(paths, func(a, b string) int {
		fa, fb := slices.Contains(fallible, a), slices.Contains(fallible, b)
		switch {
		case fa == fb:
			return 0
		case fa:
			return -1
		default:
			return 1
		}
	})
}
