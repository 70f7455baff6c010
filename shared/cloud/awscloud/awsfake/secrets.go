package awsfake

import (
	"encoding/json"
	"net/http"
)

// SetSecret stores a Secrets Manager secret: its current value (stage
// AWSCURRENT) and, when not empty, its previous one (AWSPREVIOUS), as
// after a rotation.
func (s *Server) SetSecret(arn, current, previous string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets == nil {
		s.secrets = map[string][2]string{}
	}
	s.secrets[arn] = [2]string{current, previous}
}

// serveSecrets answers Secrets Manager GetSecretValue over AWS JSON 1.1.
func (s *Server) serveSecrets(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	if rc.op != "GetSecretValue" {
		s.fail(w, rc, http.StatusBadRequest, "InvalidRequestException", "awsfake: secretsmanager "+rc.op+" is not served")
		return
	}
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretID == "" {
		s.fail(w, rc, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	s.mu.Lock()
	v, ok := s.secrets[in.SecretID]
	s.mu.Unlock()
	value := v[0]
	switch in.VersionStage {
	case "", "AWSCURRENT":
	case "AWSPREVIOUS":
		value = v[1]
	default:
		ok = false
	}
	if !ok || value == "" {
		s.fail(w, rc, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	s.ok(rc)
	writeJSON(w, rc, map[string]any{"ARN": in.SecretID, "Name": in.SecretID, "SecretString": value,
		"VersionId": "v-" + in.VersionStage, "VersionStages": []string{in.VersionStage}})
}
