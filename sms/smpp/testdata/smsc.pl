#!/usr/bin/perl
# A scriptable SMSC for the sms/smpp integration tests, built on Debian's
# libnet-smpp-perl (Net::SMPP, a third-party SMPP 3.4 implementation), so
# that our client is checked against a codec we did not write.
#
# It listens on 127.0.0.1, accepts any number of binds, and prints one line
# per event on stdout (autoflushed), which the Go tests read:
#
#   LISTENING port=N
#   BIND conn=C cmd=bind_transceiver system_id=S password=P system_type=T version=34
#   SUBMIT conn=C seq=Q src=S ton=T npi=N dest=D dest_ton=T dest_npi=N dcs=X esm=X rd=N sm=HEX
#   ACK conn=C seq=Q id=ID dest=D sm=HEX         (submit_sm_resp ESME_ROK sent)
#   NACK conn=C seq=Q status=0xNN dest=D sm=HEX  (submit_sm_resp with an error)
#   DROP conn=C                                  (connection dropped mid-window)
#   DISCARD conn=C cmd=0xNN seq=Q sm=HEX         (PDU read after the drop, not processed)
#   DLR conn=C id=ID stat=STAT
#   DLR_RESP conn=C seq=Q status=0xNN
#   ENQUIRE_LINK conn=C seq=Q                    (the client's, answered unless --no-enquire-resp)
#   ENQUIRE_LINK_RESP conn=C seq=Q               (answer to our own)
#   GENERIC_NACK conn=C seq=Q status=0xNN
#   UNBIND conn=C
#   CLOSED conn=C
#
# Flags:
#   --port N               port to listen on, 0 (default) for any free one
#   --password P           refuse binds with another password (0x0E)
#   --dlr none|delivered|undeliverable|expired   receipts to send (default none)
#   --dlr-no-tlv           receipt text only, without receipted_message_id and message_state
#   --throttle-above N     answer ESME_RTHROTTLED (0x58) beyond N submits in a second
#   --msgqfull-first N     answer the first N submits with ESME_RMSGQFUL (0x14)
#   --status 0xNN          answer every submit with this command_status
#   --empty-resp           submit_sm_resp without a body (no message_id)
#   --drop-after K         after acknowledging K submits, drop the connection at
#                          the next submit_sm, without answering it (once)
#   --enquire-interval S   send our own enquire_link every S seconds
#   --no-enquire-resp      do not answer enquire_link
#   --garbage-after-bind   send a PDU with an unknown command_id after each bind
#   --verbose              show Net::SMPP's warnings on stderr
use strict;
use warnings;
use Net::SMPP;
use IO::Select;
use Getopt::Long;
use Socket qw(SHUT_WR);
use Time::HiRes qw(time);

$| = 1;
my %o = (port => 0, dlr => 'none', 'throttle-above' => 0, 'drop-after' => 0,
         'enquire-interval' => 0, 'msgqfull-first' => 0);
GetOptions(\%o, 'port=i', 'password=s', 'dlr=s', 'dlr-no-tlv', 'throttle-above=i',
           'msgqfull-first=i', 'status=s', 'empty-resp', 'drop-after=i',
           'enquire-interval=f', 'no-enquire-resp', 'garbage-after-bind', 'verbose')
    or die "bad flags\n";
# Net::SMPP warns on every closed connection; keep test output quiet.
$SIG{__WARN__} = sub {} unless $o{verbose};

my $listen = Net::SMPP->new_listen('127.0.0.1', port => $o{port}, smpp_version => 0x34)
    or die "listen: $!\n";
print "LISTENING port=", $listen->sockport, "\n";

my $sel = IO::Select->new($listen);
my %conns;              # fileno => { smpp, id, mode, draining }
my $nconn = 0;
my $msgid = 0x1A2B3C00; # ids go out in hex; receipt texts give them in decimal
my $acked = 0;
my $dropped = 0;
my $nsubmit = 0;
my ($sec, $insec) = (0, 0);
my @dlrq;               # receipts waiting for a receiver bind
my $last_enq = time;

my %bindname = (0x1 => 'bind_receiver', 0x2 => 'bind_transmitter', 0x9 => 'bind_transceiver');
my %stateof = (delivered => ['DELIVRD', 2, '000'], undeliverable => ['UNDELIV', 5, '001'],
               expired => ['EXPIRED', 3, '000']);

sub closeconn {
    my ($fd) = @_;
    my $c = delete $conns{$fd} or return;
    $sel->remove($c->{smpp});
    close $c->{smpp};
    print "CLOSED conn=$c->{id}\n";
}

sub send_dlrs {
    my ($rx) = grep { $_->{mode} && $_->{mode} ne 'bind_transmitter' && !$_->{draining} } values %conns;
    return unless $rx;
    while (my $d = shift @dlrq) {
        my ($stat, $state, $err) = @{$stateof{$o{dlr}}};
        my $dec = hex($d->{id});
        my $stamp = '2603150830';
        my $text = "id:$dec sub:001 dlvrd:" . ($stat eq 'DELIVRD' ? '001' : '000')
            . " submit date:$stamp done date:$stamp stat:$stat err:$err text:";
        my @tlv = $o{'dlr-no-tlv'} ? () : (receipted_message_id => "$d->{id}\0",
                                           message_state => pack('C', $state));
        $rx->{smpp}->deliver_sm(source_addr_ton => 1, source_addr_npi => 1, source_addr => $d->{dest},
            dest_addr_ton => $d->{ton}, dest_addr_npi => $d->{npi}, destination_addr => $d->{src},
            esm_class => 0x04, data_coding => 0, short_message => $text, @tlv, async => 1);
        print "DLR conn=$rx->{id} id=$d->{id} stat=$stat\n";
    }
}

sub submit {
    my ($c, $pdu) = @_;
    my $smpp = $c->{smpp};
    my $hex = unpack('H*', $pdu->{short_message} // '');
    my $dest = $pdu->{destination_addr};
    printf "SUBMIT conn=%d seq=%d src=%s ton=%d npi=%d dest=%s dest_ton=%d dest_npi=%d dcs=0x%02X esm=0x%02X rd=%d sm=%s\n",
        $c->{id}, $pdu->{seq}, $pdu->{source_addr}, $pdu->{source_addr_ton}, $pdu->{source_addr_npi},
        $dest, $pdu->{dest_addr_ton}, $pdu->{dest_addr_npi}, $pdu->{data_coding}, $pdu->{esm_class},
        $pdu->{registered_delivery}, $hex;
    if ($o{'drop-after'} && !$dropped && $acked >= $o{'drop-after'}) {
        $dropped = 1;
        print "DROP conn=$c->{id}\n";
        shutdown($smpp, SHUT_WR);   # FIN after what we already sent; drain the rest
        $c->{draining} = 1;
        return;
    }
    $nsubmit++;
    my $now = int(time);
    if ($now != $sec) { ($sec, $insec) = ($now, 0) }
    $insec++;
    my $status = 0;
    if ($o{status}) { $status = hex($o{status}) }
    elsif ($nsubmit <= $o{'msgqfull-first'}) { $status = 0x14 }
    elsif ($o{'throttle-above'} && $insec > $o{'throttle-above'}) { $status = 0x58 }
    if ($status) {
        $smpp->resp_backend(Net::SMPP::CMD_submit_sm_resp, '', $smpp, seq => $pdu->{seq}, status => $status);
        printf "NACK conn=%d seq=%d status=0x%02X dest=%s sm=%s\n", $c->{id}, $pdu->{seq}, $status, $dest, $hex;
        return;
    }
    my $id = sprintf('%X', $msgid++);
    if ($o{'empty-resp'}) {
        $smpp->resp_backend(Net::SMPP::CMD_submit_sm_resp, '', $smpp, seq => $pdu->{seq});
    } else {
        $smpp->submit_sm_resp(seq => $pdu->{seq}, message_id => $id);
    }
    $acked++;
    print "ACK conn=$c->{id} seq=$pdu->{seq} id=$id dest=$dest sm=$hex\n";
    if ($o{dlr} ne 'none' && $pdu->{registered_delivery}) {
        push @dlrq, { id => $id, dest => $dest, src => $pdu->{source_addr},
                      ton => $pdu->{source_addr_ton}, npi => $pdu->{source_addr_npi} };
    }
}

sub handle {
    my ($fd) = @_;
    my $c = $conns{$fd};
    my $smpp = $c->{smpp};
    my $pdu = $smpp->read_pdu();
    if (!$pdu) { closeconn($fd); return }
    if ($c->{draining}) {
        # Read after the drop: never processed, never answered.
        printf "DISCARD conn=%d cmd=0x%08X seq=%d sm=%s\n", $c->{id}, $pdu->{cmd}, $pdu->{seq},
            unpack('H*', $pdu->{short_message} // '');
        return;
    }
    my ($cmd, $seq) = ($pdu->{cmd}, $pdu->{seq});
    if ($bindname{$cmd}) {
        my $st = (defined $o{password} && $pdu->{password} ne $o{password}) ? 0x0E : 0;
        my $resp = $cmd == 0x1 ? 'bind_receiver_resp' : $cmd == 0x2 ? 'bind_transmitter_resp' : 'bind_transceiver_resp';
        $smpp->$resp(seq => $seq, system_id => 'perlsmsc', status => $st);
        printf "BIND conn=%d cmd=%s system_id=%s password=%s system_type=%s version=%x status=0x%02X\n",
            $c->{id}, $bindname{$cmd}, $pdu->{system_id}, $pdu->{password}, $pdu->{system_type},
            $pdu->{interface_version}, $st;
        if ($st) { closeconn($fd); return }
        $c->{mode} = $bindname{$cmd};
        if ($o{'garbage-after-bind'}) {
            syswrite($smpp, pack('NNNN', 16, 0x00000777, 0, 999));
        }
    } elsif ($cmd == 0x4) {
        submit($c, $pdu);
    } elsif ($cmd == 0x15) {
        print "ENQUIRE_LINK conn=$c->{id} seq=$seq\n";
        $smpp->enquire_link_resp(seq => $seq) unless $o{'no-enquire-resp'};
    } elsif ($cmd == 0x80000015) {
        print "ENQUIRE_LINK_RESP conn=$c->{id} seq=$seq\n";
    } elsif ($cmd == 0x80000005) {
        printf "DLR_RESP conn=%d seq=%d status=0x%02X\n", $c->{id}, $seq, $pdu->{status};
    } elsif ($cmd == 0x80000000) {
        printf "GENERIC_NACK conn=%d seq=%d status=0x%02X\n", $c->{id}, $seq, $pdu->{status};
    } elsif ($cmd == 0x6) {
        print "UNBIND conn=$c->{id}\n";
        $smpp->unbind_resp(seq => $seq);
        closeconn($fd);
    } else {
        printf "OTHER conn=%d cmd=0x%08X seq=%d\n", $c->{id}, $cmd, $seq;
        $smpp->generic_nack(seq => $seq, status => 0x03);
    }
}

while (1) {
    for my $fh ($sel->can_read(0.05)) {
        if ($fh == $listen) {
            my $s = $listen->accept or next;
            $nconn++;
            $conns{fileno $s} = { smpp => $s, id => $nconn };
            $sel->add($s);
        } else {
            handle(fileno $fh) if $conns{fileno $fh};
        }
    }
    send_dlrs() if @dlrq;
    if ($o{'enquire-interval'} && time - $last_enq >= $o{'enquire-interval'}) {
        $last_enq = time;
        for my $c (values %conns) {
            next unless $c->{mode} && !$c->{draining};
            $c->{smpp}->enquire_link(async => 1);
        }
    }
}
