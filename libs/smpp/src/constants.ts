/** SMPP 3.4 command ids (section 5.1.2.1). Responses have bit 31 set. */
export const CommandId = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_receiver_resp: 0x80000001,
  bind_transmitter: 0x00000002,
  bind_transmitter_resp: 0x80000002,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  bind_transceiver: 0x00000009,
  bind_transceiver_resp: 0x80000009,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
  submit_multi: 0x00000021,
  submit_multi_resp: 0x80000021,
  data_sm: 0x00000103,
  data_sm_resp: 0x80000103,
} as const;

export type CommandName = keyof typeof CommandId;

export const commandName = new Map<number, CommandName>(
  Object.entries(CommandId).map(([name, id]) => [id, name as CommandName]),
);

export const isResponse = (commandId: number): boolean => (commandId & 0x80000000) !== 0;

/** command_status values used by Tern (section 5.1.3). */
export const Status = {
  ESME_ROK: 0x00,
  ESME_RINVMSGLEN: 0x01,
  ESME_RINVCMDLEN: 0x02,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RSYSERR: 0x08,
  ESME_RINVSRCADR: 0x0a,
  ESME_RINVDSTADR: 0x0b,
  ESME_RBINDFAIL: 0x0d,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RMSGQFUL: 0x14,
  ESME_RINVSERTYP: 0x15,
  ESME_RINVESMCLASS: 0x43,
  ESME_RSUBMITFAIL: 0x45,
  ESME_RINVSRCTON: 0x48,
  ESME_RINVSRCNPI: 0x49,
  ESME_RINVDSTTON: 0x50,
  ESME_RINVSYSTYP: 0x53,
  ESME_RTHROTTLED: 0x58,
  ESME_RINVSCHED: 0x61,
  ESME_RINVEXPIRY: 0x62,
  ESME_RINVREGDLVFLG: 0x63,
  ESME_RINVDCS: 0x104,
  ESME_RX_T_APPN: 0x64,
  ESME_RX_P_APPN: 0x65,
  ESME_RX_R_APPN: 0x66,
  ESME_RINVTLVSTREAM: 0xc0,
  ESME_RUNKNOWNERR: 0xff,
} as const;

export const statusName = new Map<number, string>(Object.entries(Status).map(([name, id]) => [id, name]));

/** Optional parameter tags (section 5.3.2). */
export const Tlv = {
  receipted_message_id: 0x001e,
  message_state: 0x0427,
  network_error_code: 0x0423,
  sar_msg_ref_num: 0x020c,
  sar_total_segments: 0x020e,
  sar_segment_seqnum: 0x020f,
  message_payload: 0x0424,
  sc_interface_version: 0x0210,
} as const;

/** message_state values (section 5.2.28). */
export const MessageState = {
  ENROUTE: 1,
  DELIVERED: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIVERABLE: 5,
  ACCEPTED: 6,
  UNKNOWN: 7,
  REJECTED: 8,
} as const;

export const Ton = {
  UNKNOWN: 0,
  INTERNATIONAL: 1,
  NATIONAL: 2,
  NETWORK_SPECIFIC: 3,
  SUBSCRIBER: 4,
  ALPHANUMERIC: 5,
  ABBREVIATED: 6,
} as const;
export const Npi = { UNKNOWN: 0, ISDN: 1 } as const;

/** esm_class bits (section 5.2.12). */
export const EsmClass = {
  /** UDH indicator: short_message starts with a user data header. */
  UDHI: 0x40,
  /** Message type: SMSC delivery receipt (in deliver_sm). */
  DELIVERY_RECEIPT: 0x04,
} as const;

/** data_coding values Tern uses (section 5.2.19). */
export const DataCoding = {
  SMSC_DEFAULT: 0x00,
  IA5: 0x01,
  LATIN1: 0x03,
  BINARY: 0x04,
  UCS2: 0x08,
} as const;

export const SMPP_VERSION_34 = 0x34;
