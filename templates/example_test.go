package templates_test

import (
	"errors"
	"fmt"

	"congthu/templates"
)

func ExampleTemplate_Render() {
	set, err := templates.Load()
	if err != nil {
		panic(err)
	}
	t, _ := set.ForStatus(templates.StatusReceived, templates.SMS)
	r, err := t.Render(map[string]any{
		"dossier_code":   "000.00.12.H26-260315-0001",
		"agency":         "Ủy ban nhân dân quận Hoàn Kiếm",
		"agency_short":   "UBND Q.Hoàn Kiếm",
		"received_at":    "2026-03-15T02:00:00Z",
		"appointment_at": "2026-03-29T09:00:00Z",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.ID, r.Version, r.Folded)
	fmt.Println(r.SMSText)
	// Output:
	// dossier-received-sms 1 true
	// UBND Q.Hoan Kiem: Ho so 000.00.12.H26-260315-0001 da duoc tiep nhan ngay 15/03/2026, hen tra ket qua ngay 29/03/2026.
}

func ExampleMissingError() {
	set, _ := templates.Load()
	t, _ := set.Get("dossier-delayed-email")
	_, err := t.Render(map[string]any{"dossier_code": "000.00.12.H26-260315-0001"})
	var me *templates.MissingError
	if errors.As(err, &me) {
		fmt.Println(me.Fields)
	}
	// Output:
	// [agency applicant.name new_appointment_at procedure reason]
}
