package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// templateView describes a template.
type templateView struct {
	ID             string   `json:"id"`
	Version        int      `json:"version"`
	Channel        string   `json:"channel"`
	Status         string   `json:"status,omitempty"`
	Description    string   `json:"description,omitempty"`
	FoldDiacritics bool     `json:"fold_diacritics,omitempty"`
	Required       []string `json:"required_fields"`
	Optional       []string `json:"optional_fields"`
}

func templateViewOf(t *templates.Template) templateView {
	req, opt := t.Fields()
	if req == nil {
		req = []string{}
	}
	if opt == nil {
		opt = []string{}
	}
	return templateView{ID: t.ID, Version: t.Version, Channel: t.Channel, Status: t.Status, Description: t.Description,
		FoldDiacritics: t.FoldDiacritics, Required: req, Optional: opt}
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	out := []templateView{}
	for _, t := range s.set.List() {
		out = append(out, templateViewOf(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.set.Get(r.PathValue("id"))
	if !ok {
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such template"})
		return
	}
	writeJSON(w, http.StatusOK, templateViewOf(t))
}

// previewView is the response of POST /v1/templates/{id}/preview.
type previewView struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Channel     string `json:"channel"`
	Subject     string `json:"subject,omitempty"`
	HTML        string `json:"html,omitempty"`
	Text        string `json:"text"`
	SMSText     string `json:"sms_text,omitempty"`
	SMSEncoding string `json:"sms_encoding,omitempty"`
	SMSParts    int    `json:"sms_parts,omitempty"`
	SMSTooLong  bool   `json:"sms_too_long,omitempty"`
	// Zalo: the ZNS template and the parameters as they would be sent
	// (shortened to Zalo's limits; ZNSNote says which were).
	ZNSTemplateID string            `json:"zns_template_id,omitempty"`
	ZNSData       map[string]string `json:"zns_data,omitempty"`
	ZNSNote       string            `json:"zns_note,omitempty"`
}

// previewTemplate renders a template with the given personalisation, or
// with the template's own sample data when none is given. Nothing is sent
// or stored.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) {
	t, ok := s.set.Get(r.PathValue("id"))
	if !ok {
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such template"})
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Personalisation map[string]any `json:"personalisation"`
	}
	if len(body) > 0 {
		fe, err := dossier.DecodeStrict(body, &req)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, fieldError{Message: err.Error()})
			return
		}
		if fe != nil {
			writeErrors(w, http.StatusUnprocessableEntity, *fe)
			return
		}
	}
	var rd *templates.Rendered
	var err error
	if req.Personalisation == nil {
		rd, err = t.Preview()
	} else {
		rd, err = t.Render(req.Personalisation)
	}
	if err != nil {
		fe, err := notify.RenderProblems(err, "personalisation.")
		if err != nil {
			s.internal(w, "preview", err)
			return
		}
		writeErrors(w, http.StatusUnprocessableEntity, fe...)
		return
	}
	v := previewView{ID: rd.ID, Version: rd.Version, Channel: rd.Channel, Subject: rd.Subject, HTML: rd.HTML, Text: rd.Text}
	if k, ok := s.channels.Kind(t.Channel); ok {
		// What the channel would send: SMS parts, for one. A problem
		// other than length needs a request (an address, a name) and is
		// not the template's.
		var n notifydb.NewNotification
		err := k.Prepare(&n, rd, &notify.Message{Service: callerOf(r.Context()).service, Channel: k, Template: t, Test: true})
		var p *notify.Problem
		v.SMSText, v.SMSEncoding, v.SMSParts = n.SMSText, n.SMSEncoding, n.SMSParts
		v.SMSTooLong = errors.As(err, &p) && p.TooLong
		if n.ZNSTemplateID != "" {
			v.ZNSTemplateID, v.ZNSNote = n.ZNSTemplateID, n.StatusDetail
			_ = json.Unmarshal([]byte(n.ZNSData), &v.ZNSData)
		}
	}
	writeJSON(w, http.StatusOK, v)
}
