package pubsubfidelity

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// validName reports whether name is "projects/{project}/{kind}/{id}" with
// an id as production requires: 3 to 255 characters, starting with a
// letter, of letters, digits and - _ . ~ + %, not starting with "goog".
// Like Google's Java emulator, the project part is not checked (production
// answers NOT_FOUND for a project that does not exist).
func validName(kind, name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != kind {
		return false
	}
	return validID(parts[3])
}

func validID(id string) bool {
	if len(id) < 3 || len(id) > 255 || strings.HasPrefix(id, "goog") {
		return false
	}
	for i, c := range id {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case letter:
		case i == 0:
			return false
		case c >= '0' && c <= '9', strings.ContainsRune("-_.~+%", c):
		default:
			return false
		}
	}
	return true
}

// checkName is validName as the API's error: INVALID_ARGUMENT with the Java
// emulator's (and production's) wording.
func checkName(kind, name string) error {
	if validName(kind, name) {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "Invalid [%s] name: (name=%s)", kind, name)
}

// checkNames checks (kind, name) pairs in order.
func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
